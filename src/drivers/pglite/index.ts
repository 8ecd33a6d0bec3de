/**
 * `steadfast/pglite`: the embedded PGlite database as a Steadfast driver.
 *
 * Reserved entry point: the PGlite driver arrives with the service, which runs on it when no
 * `DATABASE_URL` is set. Importing it today gives an empty module.
 *
 * @module
 */
export {};
