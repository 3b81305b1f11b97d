/** The v1 event shape as the CLI reads it (GET /v1/events, GET /v1/vms/{id}/events). */
export interface EventItem {
  position: string;
  streamId: string;
  revision: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: { principal: string; correlationId: string; at: string; reason?: string };
}

export interface EventPage {
  items: EventItem[];
  next: string | null;
}
