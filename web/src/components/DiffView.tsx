/** A unified line diff with a few lines of context; every line says +, − or nothing, not only its colour. */

import { useMemo } from "react";
import { useI18n } from "../context";
import { diffStats, hunks, lineDiff } from "../diff/lineDiff";

export function DiffView({ before, after, label }: { before: string; after: string; label: string }) {
  const { t } = useI18n();
  const lines = useMemo(() => lineDiff(before, after), [before, after]);
  const parts = useMemo(() => hunks(lines, 3), [lines]);
  const { added, removed } = diffStats(lines);
  if (added === 0 && removed === 0) return <p className="empty">{t("diff.same")}</p>;
  return (
    <div>
      <p className="diff-stats">
        <span className="diff-added-count">{t("diff.added", { count: added })}</span>,{" "}
        <span className="diff-removed-count">{t("diff.removed", { count: removed })}</span>
      </p>
      <div className="diff" role="group" aria-label={label} tabIndex={0} dir="ltr">
        {parts.map((hunk, h) => (
          <div key={h} className="hunk">
            {hunk.skippedBefore > 0 ? <div className="diff-skip">{t("diff.skipped", { count: hunk.skippedBefore })}</div> : null}
            {hunk.lines.map((line, i) => (
              <div key={i} className={`diff-line diff-${line.op}`}>
                <span className="diff-no" aria-hidden="true">
                  {line.oldNo ?? ""}
                </span>
                <span className="diff-no" aria-hidden="true">
                  {line.newNo ?? ""}
                </span>
                <span className="diff-sign">
                  {line.op === "add" ? (
                    <>
                      <span aria-hidden="true">+</span>
                      <span className="visually-hidden">{t("diff.addedLine")}</span>
                    </>
                  ) : line.op === "del" ? (
                    <>
                      <span aria-hidden="true">−</span>
                      <span className="visually-hidden">{t("diff.removedLine")}</span>
                    </>
                  ) : (
                    " "
                  )}
                </span>
                <code className="diff-text">{line.text}</code>
              </div>
            ))}
            {hunk.skippedAfter ? <div className="diff-skip">{t("diff.skipped", { count: hunk.skippedAfter })}</div> : null}
          </div>
        ))}
      </div>
    </div>
  );
}
