import 'reflect-metadata';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Module,
  Param,
  Post,
  Headers as Hdrs,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { CreateVmDto } from '../src/modules/vms/dto/create-vm.dto.js';
import { createValidationPipe } from '../src/http/validation.js';
import { freePort } from '../src/runtime/free-port.js';
import { pool, summarize, type Summary } from './stats.js';

/** A VM view of the size GET /v1/vms/{id} answers, so both adapters serialise the same bytes. */
const VIEW = {
  id: '6f1c2b9e-0d4a-4c55-9a43-3c2f3a8d7e10',
  name: 'bench-1',
  state: 'running',
  hostId: 'h-1',
  spec: { vcpus: 1, memoryMiB: 64, diskGiB: 1, image: null },
  pending: null,
  revision: '3',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:01.000Z',
  snapshots: [],
  capabilities: { live: true, snapshots: true, pause: true, console: true },
};

/**
 * The HTTP edge without the control plane behind it: the real create DTO
 * through the real validation pipe, a bearer header read, a 202 with a body,
 * and a GET of a VM-sized view. What differs between the two runs is only the
 * adapter (express or fastify), so the difference is the adapter's own cost.
 */
@Controller('v1/vms')
class EdgeController {
  @Post()
  @HttpCode(202)
  create(@Body() body: CreateVmDto, @Hdrs('authorization') auth: string | undefined): Record<string, string> {
    if (!auth) throw new Error('no token');
    return { operationId: randomUUID(), vmId: randomUUID(), name: body.name };
  }

  @Get(':id')
  read(@Param('id') id: string): typeof VIEW {
    return { ...VIEW, id };
  }
}

@Module({ controllers: [EdgeController] })
class EdgeModule {}

export interface AdapterFigures {
  adapter: 'express' | 'fastify';
  post: Summary;
  get: Summary;
  /**
   * CPU time of the process per request (server and the in-process client, which is the same
   * code for both adapters): unlike the latencies it holds on a machine busy with other work.
   */
  postCpuMs: number;
  getCpuMs: number;
}

type Measured = Summary & { cpuMs: number };

async function load(base: string, n: number, concurrency: number): Promise<{ post: Measured; get: Measured }> {
  const headers = { authorization: 'Bearer bench', 'content-type': 'application/json' };
  const body = JSON.stringify({ name: 'bench-1', vcpus: 1, memoryMiB: 64, diskGiB: 1 });
  const run = async (fn: () => Promise<void>): Promise<Measured> => {
    const lat: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await pool(n, concurrency, async () => {
      const s = performance.now();
      await fn();
      lat.push(performance.now() - s);
    });
    const cpu = process.cpuUsage(cpu0);
    return { ...summarize(lat, performance.now() - t0), cpuMs: (cpu.user + cpu.system) / 1000 / n };
  };
  const post = await run(async () => {
    const res = await fetch(`${base}/v1/vms`, { method: 'POST', headers, body });
    if (res.status !== 202) throw new Error(`POST: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  });
  const get = await run(async () => {
    const res = await fetch(`${base}/v1/vms/${VIEW.id}`, { headers });
    if (res.status !== 200) throw new Error(`GET: ${res.status}`);
    await res.arrayBuffer();
  });
  return { post, get };
}

async function one(adapter: 'express' | 'fastify', n: number, concurrency: number): Promise<AdapterFigures> {
  const app: INestApplication =
    adapter === 'fastify'
      ? await NestFactory.create(EdgeModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(EdgeModule, { logger: false });
  app.useGlobalPipes(createValidationPipe());
  const port = await freePort();
  await app.listen(port, '127.0.0.1');
  try {
    // A warm-up pass, so neither adapter is measured while the JIT is still compiling it.
    await load(`http://127.0.0.1:${port}`, Math.min(n, 500), concurrency);
    const { post, get } = await load(`http://127.0.0.1:${port}`, n, concurrency);
    return { adapter, post, get, postCpuMs: post.cpuMs, getCpuMs: get.cpuMs };
  } finally {
    await app.close();
  }
}

/** Express, fastify, express again: the machine's drift during the run shows as the two express figures differing. */
export async function httpAdaptersBench(n: number, concurrency: number): Promise<AdapterFigures[]> {
  return [
    await one('express', n, concurrency),
    await one('fastify', n, concurrency),
    await one('express', n, concurrency),
  ];
}

export function printHttpAdapters(figs: AdapterFigures[], appPostP50: number | undefined): void {
  console.log('\nsection: HTTP adapter (same Nest controller, DTO and validation pipe; no control plane behind)');
  const f = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  for (const x of figs)
    console.log(
      `  ${x.adapter.padEnd(8)} POST ${f(x.post.perSecond).padStart(8)}/s p50 ${f(x.post.p50).padStart(6)} ms CPU ${x.postCpuMs.toFixed(3)} ms` +
        `   GET ${f(x.get.perSecond).padStart(8)}/s p50 ${f(x.get.p50).padStart(6)} ms CPU ${x.getCpuMs.toFixed(3)} ms`,
    );
  const express = figs.filter((x) => x.adapter === 'express');
  const fastify = figs.find((x) => x.adapter === 'fastify');
  if (!fastify || express.length === 0) return;
  const exPost = Math.min(...express.map((x) => x.post.p50));
  const exCpu = Math.min(...express.map((x) => x.postCpuMs));
  const saved = exPost - fastify.post.p50;
  console.log(
    `  fastify / express POST throughput: ${(fastify.post.perSecond / Math.max(...express.map((x) => x.post.perSecond))).toFixed(2)}×; ` +
      `p50 saved per POST: ${f(saved)} ms` +
      (appPostP50 !== undefined
        ? ` of the app's ${f(appPostP50)} ms POST → 202 p50 (${((100 * saved) / appPostP50).toFixed(1)} %)`
        : ''),
  );
  console.log(
    `  CPU per POST (server + the same client): express ${exCpu.toFixed(3)} ms, fastify ${fastify.postCpuMs.toFixed(3)} ms: ` +
      `fastify saves ${(exCpu - fastify.postCpuMs).toFixed(3)} ms of CPU per POST`,
  );
  console.log(
    '  express stays: controllers answer through the express Response (res.location, res.setHeader, SSE and the\n' +
      '  streaming image upload write to it), helmet and the web console are express middleware, and the console\n' +
      "  WebSocket upgrades on express's server; the adapter's share of a command's latency is the figure above.",
  );
}
