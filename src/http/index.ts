/**
 * `steadfast/http`: Web-standard `(Request) => Promise<Response>` handlers for health,
 * readiness, metrics and the admin reconnect.
 *
 * Reserved entry point: the handlers arrive with the health and metrics work. Importing it
 * today gives an empty module.
 *
 * @module
 */
export {};
