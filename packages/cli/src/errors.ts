/**
 * A failure the user can act on: printed as one `error: …` line, never with a
 * stack trace. Anything else that escapes a command is a bug.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The server answered `{error, message}`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly serverMessage: string,
  ) {
    super(`${serverMessage} (${code})`);
    this.name = 'ApiError';
  }
}
