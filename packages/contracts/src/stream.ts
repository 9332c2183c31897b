// The Redis Stream internal consumers read Gatehouse's events from (consumer groups:
// XREADGROUP / XACK), beside the webhooks. The auth-service's relay appends each event
// once it is committed, in outbox order, with a bounded length (XADD MAXLEN ~). Each
// entry has the fields `id` (the event id, for deduplication: delivery is at least
// once), `type` and `event` (the JSON envelope, `sequence` included).

/** The stream's key. */
export const EVENT_STREAM = "gatehouse:events";

/** The fields of one stream entry. */
export interface EventStreamEntry {
  id: string;
  type: string;
  /** The GatehouseEvent as JSON. */
  event: string;
}
