/** Query parameters that carry credentials when a client puts them in the URL; never logged as sent. */
const SECRET_PARAMS = /([?&](?:access_token|token|api_key|apikey|auth|authorization|password)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}
