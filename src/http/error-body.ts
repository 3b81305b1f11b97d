export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

const NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  431: 'Request Header Fields Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function errorBody(statusCode: number, message: string, details?: unknown): ErrorBody {
  return { statusCode, error: NAMES[statusCode] ?? 'Error', message, ...(details === undefined ? {} : { details }) };
}
