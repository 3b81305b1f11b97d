import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DriverError } from '../hypervisor-driver.port.js';
import { child, el, escapeXml, find, parseXml, textEl, textOf, xsiType, type XmlNode } from './xml.js';

/** A managed object reference: `<_this type="VirtualMachine">vm-42</_this>`. */
export interface MoRef {
  type: string;
  value: string;
}

/** A SOAP fault with vSphere's own words and fault type (InvalidPowerState, NotAuthenticated…). */
export class SoapFault extends Error {
  override readonly name = 'SoapFault';
  constructor(
    readonly faultType: string,
    message: string,
  ) {
    super(message);
  }
}

export function moXml(name: string, ref: MoRef): string {
  return el(name, escapeXml(ref.value), { type: ref.type });
}

export function moOf(node: XmlNode | undefined): MoRef | undefined {
  if (!node) return undefined;
  const value = textOf(node);
  const type = node.attrs.type ?? xsiType(node);
  return value && type ? { type, value } : undefined;
}

export interface SoapOptions {
  sdkUrl: string;
  user: string;
  password: () => string;
  insecure: boolean;
  callTimeoutMs: number;
}

/** A caller's signal plus this call's own deadline; says which of the two fired. */
function deadline(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const own = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, own]) : own;
}

/**
 * A small typed layer over the vim25 SOAP calls the driver uses (no WSDL-generated client: the
 * dozen requests are written out, the answers read with a tiny XML reader). One session per
 * driver: logged in on first use, logged in again once when vCenter says NotAuthenticated
 * (an expired session). Every call has a deadline and honours the caller's AbortSignal.
 */
export class SoapClient {
  private cookie: string | undefined;
  private content: XmlNode | undefined;
  private apiVersion = '6.5';
  private login: Promise<void> | undefined;

  constructor(private readonly o: SoapOptions) {}

  /** ServiceContent (rootFolder, propertyCollector, searchIndex…), fetched at login. */
  async serviceContent(signal?: AbortSignal): Promise<XmlNode> {
    await this.ensureLogin(signal);
    return this.content!;
  }

  async service(name: string, signal?: AbortSignal): Promise<MoRef> {
    const ref = moOf(child(await this.serviceContent(signal), name));
    if (!ref) throw new DriverError('failed', `vSphere at ${this.o.sdkUrl} has no ${name}`);
    return ref;
  }

  /** Calls `method` on `target`; `body` is the parameters after `_this`. Returns the response element. */
  async call(method: string, target: MoRef, body: string, signal?: AbortSignal): Promise<XmlNode> {
    await this.ensureLogin(signal);
    try {
      return await this.raw(method, target, body, signal);
    } catch (err) {
      if (!(err instanceof SoapFault) || err.faultType !== 'NotAuthenticated') throw err;
      this.login = undefined;
      await this.ensureLogin(signal);
      return this.raw(method, target, body, signal);
    }
  }

  async logout(): Promise<void> {
    if (!this.cookie) return;
    const sm = moOf(child(this.content, 'sessionManager'));
    if (sm) await this.raw('Logout', sm, '', AbortSignal.timeout(5_000)).catch(() => undefined);
    this.cookie = undefined;
    this.login = undefined;
  }

  private ensureLogin(signal?: AbortSignal): Promise<void> {
    this.login ??= this.doLogin(signal).catch((err: unknown) => {
      this.login = undefined;
      throw err;
    });
    return this.login;
  }

  private async doLogin(signal?: AbortSignal): Promise<void> {
    this.cookie = undefined;
    const res = await this.raw(
      'RetrieveServiceContent',
      { type: 'ServiceInstance', value: 'ServiceInstance' },
      '',
      signal,
    );
    this.content = child(res, 'returnval');
    this.apiVersion = textOf(find(this.content, 'about'), 'apiVersion') ?? this.apiVersion;
    const sm = moOf(child(this.content, 'sessionManager'));
    if (!sm) throw new DriverError('failed', `${this.o.sdkUrl} is not a vSphere SDK endpoint (no sessionManager)`);
    let password: string;
    try {
      password = this.o.password();
    } catch (err) {
      throw new DriverError('failed', (err as Error).message);
    }
    try {
      await this.raw('Login', sm, textEl('userName', this.o.user) + textEl('password', password), signal);
    } catch (err) {
      if (err instanceof SoapFault && err.faultType === 'InvalidLogin') {
        throw new DriverError(
          'failed',
          `vSphere refused the login of ${this.o.user} at ${this.o.sdkUrl}: ${err.message}`,
        );
      }
      throw err;
    }
  }

  private async raw(method: string, target: MoRef, body: string, signal?: AbortSignal): Promise<XmlNode> {
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
      'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
      `<soapenv:Body><${method} xmlns="urn:vim25">${moXml('_this', target)}${body}</${method}></soapenv:Body>` +
      '</soapenv:Envelope>';
    const { status, text, setCookie } = await this.post(method, envelope, signal);
    if (setCookie) this.cookie = setCookie;
    let doc: XmlNode;
    try {
      doc = parseXml(text);
    } catch {
      throw new DriverError('failed', `${method} at ${this.o.sdkUrl}: HTTP ${status}, not a SOAP answer`);
    }
    const fault = find(doc, 'Fault');
    if (fault) {
      const detail = child(child(fault, 'detail'), child(fault, 'detail')?.children[0]?.name ?? '');
      const type = (xsiType(detail) ?? detail?.name ?? 'Fault').replace(/Fault$/, '');
      throw new SoapFault(type, textOf(fault, 'faultstring') || type);
    }
    if (status !== 200) throw new DriverError('failed', `${method} at ${this.o.sdkUrl}: HTTP ${status}`);
    const response = find(doc, `${method}Response`);
    if (!response) throw new DriverError('failed', `${method} at ${this.o.sdkUrl}: no ${method}Response`);
    return response;
  }

  private post(
    method: string,
    envelope: string,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; text: string; setCookie?: string }> {
    const url = new URL(this.o.sdkUrl);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const combined = deadline(signal, this.o.callTimeoutMs);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          signal: combined,
          headers: {
            'content-type': 'text/xml; charset=utf-8',
            soapaction: `urn:vim25/${this.apiVersion}`,
            ...(this.cookie ? { cookie: this.cookie } : {}),
          },
          ...(url.protocol === 'https:' ? { rejectUnauthorized: !this.o.insecure } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const cookie = res.headers['set-cookie']?.find((c) => c.startsWith('vmware_soap_session'));
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              ...(cookie ? { setCookie: cookie.split(';')[0] } : {}),
            });
          });
        },
      );
      req.on('error', (err) => {
        if (combined.aborted) {
          // Our own deadline, or the caller's when it is a timeout too (AbortSignal.timeout).
          const timedOut = !signal?.aborted || (signal.reason as Error | undefined)?.name === 'TimeoutError';
          reject(
            timedOut
              ? new DriverError('timeout', `${method} at ${this.o.sdkUrl}: no answer within ${this.o.callTimeoutMs} ms`)
              : new DriverError('failed', `${method} at ${this.o.sdkUrl}: aborted (${reasonOf(signal)})`),
          );
          return;
        }
        reject(new DriverError('failed', `${method} at ${this.o.sdkUrl}: ${err.message}`, { cause: err }));
      });
      req.end(envelope);
    });
  }
}

function reasonOf(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r.message : String(r ?? 'aborted');
}
