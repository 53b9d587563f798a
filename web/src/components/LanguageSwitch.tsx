import { useI18n } from "../context";
import type { Lang } from "../i18n/i18n";

const NAMES: Record<Lang, string> = { en: "English", fr: "Français" };

/** EN / FR: the interface's language (the browser's by default; remembered once chosen). */
export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div className="lang-switch" role="group" aria-label={t("lang.label")}>
      {(["en", "fr"] as const).map((l) => (
        <button key={l} type="button" lang={l} className="small" aria-pressed={lang === l} title={NAMES[l]} onClick={() => setLang(l)}>
          {l.toUpperCase()}
        </button>
      ))}
    </div>
  );
}
