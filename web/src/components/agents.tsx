import { useI18n } from "../context";
import { isMessageKey } from "../i18n/i18n";

/** An agent role (`sales`, `logistics`, …) by its name in the interface's language. */
export function AgentName({ agent }: { agent: string }) {
  const { t } = useI18n();
  const key = `agent.${agent}`;
  return <strong className="agent-name">{isMessageKey(key) ? t(key) : agent}</strong>;
}
