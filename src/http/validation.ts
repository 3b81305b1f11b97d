import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { errorBody } from './error-body.js';
import { fieldErrors } from './validation-messages.js';

export type { FieldError } from './validation-messages.js';

/** Whitelist + forbid unknown fields; every bad field is named in `details`. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    // The value is read to say what type was sent; it is not echoed into the error body.
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => {
      const details = fieldErrors(errors);
      const message = details.map((d) => d.errors.join(', ')).join('; ') || 'invalid request body';
      return new BadRequestException(errorBody(400, message, details));
    },
  });
}
