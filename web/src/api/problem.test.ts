import { describe, expect, it } from "vitest";
import { fieldError, problemFromResponse, toProblem } from "./problem";

describe("problem details", () => {
  it("are read as the API writes them (RFC 9457)", async () => {
    const body = {
      type: "https://aiwf.dev/problems/validation",
      title: "The request is not valid",
      status: 422,
      instance: "urn:uuid:1",
      errors: [{ field: "title", message: "Expected `str` of length <= 200" }],
    };
    const problem = await problemFromResponse(new Response(JSON.stringify(body), { status: 422, headers: { "Content-Type": "application/problem+json" } }));
    expect(problem).toEqual({ ...body, detail: "" });
    expect(fieldError(problem, "title")).toContain("200");
    expect(fieldError(problem, "customer_id")).toBeUndefined();
  });

  it("are made up from anything else, without an HTML page's markup", () => {
    expect(toProblem(502, "<html><body>Bad gateway</body></html>", "Bad Gateway")).toEqual({ status: 502, title: "Bad Gateway", detail: "", errors: [] });
    expect(toProblem(500, "boom", "")).toMatchObject({ status: 500, title: "HTTP 500", detail: "boom" });
    expect(toProblem(404, null).title).toBe("HTTP 404");
  });
});
