/** ms a generation that failed to become ready has to answer what it accepted, after SIGTERM. */
export const FAILED_GENERATION_GRACE = 5_000;
