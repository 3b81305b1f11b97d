import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IsBoolean, IsInt, IsOptional, IsString, Max, Min, ValidateNested, validate } from 'class-validator';
import { plainToInstance, Type } from 'class-transformer';
import { fieldErrors } from './validation-messages.js';

class Inner {
  @IsInt()
  @Min(1)
  n!: number;
}

class Body {
  @IsString()
  name!: string;

  @IsInt()
  @Min(1)
  @Max(8)
  vcpus!: number;

  @IsOptional()
  @IsBoolean()
  start?: boolean;

  @IsOptional()
  @ValidateNested()
  @Type(() => Inner)
  inner?: Inner;
}

async function errorsOf(plain: object) {
  return fieldErrors(await validate(plainToInstance(Body, plain), { validationError: { target: false, value: true } }));
}

describe('validation messages say what is wrong, not every rule', () => {
  test('missing fields are "required"', async () => {
    assert.deepEqual(await errorsOf({}), [
      { field: 'name', errors: ['name is required'] },
      { field: 'vcpus', errors: ['vcpus is required'] },
    ]);
  });

  test('the wrong type names the type wanted and the one sent, with no range rules', async () => {
    assert.deepEqual(await errorsOf({ name: 7, vcpus: '2', start: 'yes' }), [
      { field: 'name', errors: ['name must be a string, got number'] },
      { field: 'vcpus', errors: ['vcpus must be an integer, got string'] },
      { field: 'start', errors: ['start must be a boolean, got string'] },
    ]);
    assert.deepEqual(await errorsOf({ name: 'a', vcpus: [1] }), [
      { field: 'vcpus', errors: ['vcpus must be an integer, got array'] },
    ]);
    assert.deepEqual(await errorsOf({ name: 'a', vcpus: 2.5 }), [
      { field: 'vcpus', errors: ['vcpus must be an integer, got 2.5'] },
    ]);
  });

  test('the right type out of range keeps the broken rule; nested fields are named with their parent', async () => {
    assert.deepEqual(await errorsOf({ name: 'a', vcpus: 9, inner: { n: 0 } }), [
      { field: 'vcpus', errors: ['vcpus must not be greater than 8'] },
      { field: 'inner.n', errors: ['n must not be less than 1'] },
    ]);
  });
});
