import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A scripted vim25 endpoint: each SOAP method answers what the test says, and every call is recorded. */
export type Answer = { body: string } | { fault: string; message: string } | 'hang';
export type Script = (method: string, request: string, n: number) => Answer | undefined;

const envelope = (inner: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>' +
  inner +
  '</soapenv:Body></soapenv:Envelope>';

const SERVICE_CONTENT =
  '<returnval>' +
  '<rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>' +
  '<about><apiVersion>7.0</apiVersion><instanceUuid>fake-vc</instanceUuid></about>' +
  '<sessionManager type="SessionManager">SessionManager</sessionManager></returnval>';

export class FakeVsphere {
  readonly calls: Array<{ method: string; request: string }> = [];
  private readonly hanging: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly sdkUrl: string,
  ) {}

  static async start(script: Script): Promise<FakeVsphere> {
    const holder: { fake?: FakeVsphere } = {};
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let request = '';
      req.on('data', (c: Buffer) => (request += c.toString('utf8')));
      req.on('end', () => holder.fake!.answer(script, request, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    holder.fake = new FakeVsphere(server, `http://127.0.0.1:${port}/sdk`);
    return holder.fake;
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(script: Script, request: string, res: ServerResponse): void {
    const method = /<(\w+) xmlns="urn:vim25">/.exec(request)?.[1] ?? '?';
    this.calls.push({ method, request });
    const a: Answer | undefined = script(method, request, this.count(method)) ?? this.defaults(method);
    if (a === 'hang') {
      this.hanging.push(res); // never answered: the client's deadline must end the call
      return;
    }
    if (a === undefined) {
      res
        .writeHead(500, { 'content-type': 'text/xml' })
        .end(envelope(fault('MethodNotFound', `${method} is not scripted`)));
    } else if ('fault' in a) {
      res.writeHead(500, { 'content-type': 'text/xml' }).end(envelope(fault(a.fault, a.message)));
    } else {
      res
        .writeHead(200, { 'content-type': 'text/xml', 'set-cookie': 'vmware_soap_session="fake"; Path=/; HttpOnly' })
        .end(envelope(`<${method}Response xmlns="urn:vim25">${a.body}</${method}Response>`));
    }
  }

  private defaults(method: string): Answer | undefined {
    if (method === 'RetrieveServiceContent') return { body: SERVICE_CONTENT };
    if (method === 'Login') return { body: '<returnval><key>s1</key><userName>u</userName></returnval>' };
    if (method === 'Logout' || method === 'CancelTask') return { body: '' };
    return undefined;
  }
}

function fault(type: string, message: string): string {
  return (
    `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${message}</faultstring>` +
    `<detail><${type}Fault xmlns="urn:vim25" xsi:type="${type}"></${type}Fault></detail></soapenv:Fault>`
  );
}

/** RetrievePropertiesEx's answer for a task's `info`. */
export function taskInfo(task: string, state: string, extra = ''): { body: string } {
  return {
    body:
      `<returnval><objects><obj type="Task">${task}</obj><propSet><name>info</name>` +
      `<val xsi:type="TaskInfo"><key>${task}</key><state>${state}</state>${extra}</val></propSet></objects></returnval>`,
  };
}
