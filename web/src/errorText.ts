import { i18n } from './i18n';
import { RtcError } from './rtc';

/** Localized text for an error from the SDK or the dev-token request. */
export function errorText(error: unknown): string {
  const { t, te } = i18n.global;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RtcError && te(`errors.${error.code}`)) {
    return t(`errors.${error.code}`, { message });
  }
  return t('errors.unknown', { message });
}

/** Localized text for the `reason` of a `disconnected` event (an error code). */
export function reasonText(reason: string): string {
  const { t, te } = i18n.global;
  return te(`errors.${reason}`) ? t(`errors.${reason}`, { message: reason }) : reason;
}
