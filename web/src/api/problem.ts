/**
 * RFC 9457 problem details, as every API error is answered (`application/problem+json`: type, title,
 * status, detail, instance, errors[]). Anything else the app meets (a proxy's HTML page, a dropped
 * connection) is turned into the same shape, so that one component shows every failure.
 */

export interface FieldError {
  field: string;
  message: string;
}

export interface ApiProblem {
  /** 0: no answer (the network, or the request was not sent). */
  status: number;
  title: string;
  detail: string;
  errors: FieldError[];
  type?: string;
  instance?: string;
}

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** A problem from a parsed JSON body (or anything else: then only the status is known). */
export function toProblem(status: number, body: unknown, statusText = ""): ApiProblem {
  if (body !== null && typeof body === "object") {
    const record = body as Record<string, unknown>;
    const errors = Array.isArray(record.errors)
      ? record.errors
          .filter((e): e is Record<string, unknown> => e !== null && typeof e === "object")
          .map((e) => ({ field: asString(e.field), message: asString(e.message) }))
      : [];
    const problem: ApiProblem = {
      status: typeof record.status === "number" ? record.status : status,
      title: asString(record.title) || statusText || `HTTP ${status}`,
      detail: asString(record.detail),
      errors,
    };
    if (typeof record.type === "string") problem.type = record.type;
    if (typeof record.instance === "string") problem.instance = record.instance;
    return problem;
  }
  const text = typeof body === "string" ? body.trim() : "";
  // An HTML error page says nothing useful once its tags are gone; keep a short plain text only.
  const detail = text.startsWith("<") ? "" : text.slice(0, 500);
  return { status, title: statusText || `HTTP ${status}`, detail, errors: [] };
}

export async function problemFromResponse(response: Response): Promise<ApiProblem> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // the body could not be read: the status says enough
  }
  let body: unknown = text;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
  }
  return toProblem(response.status, body, response.statusText);
}

export function networkProblem(error: unknown): ApiProblem {
  const detail = error instanceof Error ? error.message : String(error);
  return { status: 0, title: "", detail, errors: [] };
}

/** Thrown by the client's helpers; carries the problem for the page to show. */
export class ProblemError extends Error {
  readonly problem: ApiProblem;

  constructor(problem: ApiProblem) {
    super(problem.title || problem.detail || `HTTP ${problem.status}`);
    this.problem = problem;
  }
}

export function problemOf(error: unknown): ApiProblem {
  if (error instanceof ProblemError) return error.problem;
  return networkProblem(error);
}

/** The message of the field named `field` (request-body fields arrive as `title`, `body.title`, …). */
export function fieldError(problem: ApiProblem | null | undefined, field: string): string | undefined {
  return problem?.errors.find((e) => e.field === field || e.field.endsWith(`.${field}`))?.message;
}
