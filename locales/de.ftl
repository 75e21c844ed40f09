# toker's messages in German (Sie-Form). Same ids and placeholders as en.ftl.

## Sessions and token validation

sessions-not-confirmed = Eine Bestätigungs-E-Mail wurde an Ihre E-Mail-Adresse „{ $email }“ gesendet. Bitte folgen Sie den Anweisungen in der E-Mail, um Ihr Konto zu aktivieren.
sessions-bad-credentials = Ungültige Anmeldedaten. Bitte versuchen Sie es erneut.
sessions-not-supported = Verwenden Sie POST /sign_in, um sich anzumelden. GET wird nicht unterstützt.
sessions-user-not-found = Der Benutzer wurde nicht gefunden oder ist nicht angemeldet.
token-validations-invalid = Ungültige Anmeldedaten
locked = Ihr Konto wurde nach zu vielen fehlgeschlagenen Anmeldeversuchen gesperrt.
last-attempt = Sie haben noch einen Versuch, bevor Ihr Konto gesperrt wird.
unauthenticated = Bitte melden Sie sich an oder registrieren Sie sich, um fortzufahren.

## Registrations

registrations-missing-confirm-success-url = Der Parameter „confirm_success_url“ fehlt.
redirect-not-allowed = Die Weiterleitung zu „{ $redirect_url }“ ist nicht erlaubt.
registrations-account-destroyed = Das Konto mit der UID „{ $uid }“ wurde gelöscht.
registrations-account-to-destroy-not-found = Das zu löschende Konto wurde nicht gefunden.
registrations-user-not-found = Benutzer nicht gefunden.
validate-sign-up-params = Bitte senden Sie gültige Registrierungsdaten im Anfragetext.
validate-account-update-params = Bitte senden Sie gültige Daten zur Aktualisierung des Kontos im Anfragetext.

## Passwords, confirmations and unlocks

missing-email = Bitte geben Sie eine E-Mail-Adresse an.
user-with-email-not-found = Es wurde kein Benutzer mit der E-Mail-Adresse „{ $email }“ gefunden.
passwords-missing-redirect-url = Die Weiterleitungs-URL fehlt.
passwords-sent = Eine E-Mail mit Anweisungen zum Zurücksetzen Ihres Passworts wurde an „{ $email }“ gesendet.
passwords-sent-paranoid = Falls Ihre E-Mail-Adresse bei uns registriert ist, erhalten Sie in wenigen Minuten einen Link zum Zurücksetzen Ihres Passworts.
passwords-not-required = Für dieses Konto ist kein Passwort erforderlich. Bitte melden Sie sich stattdessen mit Ihrem Konto bei „{ $provider }“ an.
passwords-missing-passwords = Bitte füllen Sie die Felder „Passwort“ und „Passwortbestätigung“ aus.
passwords-updated = Ihr Passwort wurde erfolgreich geändert.
passwords-unauthorized = Nicht autorisiert
passwords-reset-token-invalid = Der Link zum Zurücksetzen des Passworts ist ungültig oder abgelaufen.
confirmations-sent = Eine E-Mail mit Anweisungen zur Bestätigung Ihres Kontos wurde an „{ $email }“ gesendet.
confirmations-sent-paranoid = Falls Ihre E-Mail-Adresse bei uns registriert ist, erhalten Sie in wenigen Minuten eine E-Mail mit Anweisungen zur Bestätigung Ihrer E-Mail-Adresse.
unlocks-sent = Eine E-Mail mit Anweisungen zum Entsperren Ihres Kontos wurde an „{ $email }“ gesendet.
unlocks-sent-paranoid = Falls Ihr Konto existiert, erhalten Sie in wenigen Minuten eine E-Mail mit Anweisungen zum Entsperren.
unlocks-token-invalid = Der Link zum Entsperren ist ungültig.

## OAuth

unknown-provider = Unbekannter Anbieter „{ $name }“.
invalid-provider-token = Ungültiges Token des Anbieters.
omniauth-no-origin = Sie sind angemeldet, aber die Anfrage enthielt keine erlaubte auth_origin_url, zu der zurückgeleitet werden kann.

## toker's own answers

mail-not-sent = Die E-Mail konnte nicht gesendet werden. Bitte versuchen Sie es später erneut.
too-many-requests = Zu viele Versuche. Bitte versuchen Sie es später erneut.
busy = Der Server ist ausgelastet. Bitte versuchen Sie es später erneut.
unavailable = Der Dienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es später erneut.
database-unreachable = Die Datenbank ist nicht erreichbar.
not-found = Nicht gefunden.
method-not-allowed = Methode nicht erlaubt.
internal-error = Interner Serverfehler.
body-too-large = Der Anfragetext ist zu groß.
body-timed-out = Der Anfragetext ist nicht rechtzeitig eingegangen.
body-unreadable = Der Anfragetext konnte nicht gelesen werden.
body-not-utf8 = Ungültige Formulardaten: nicht in UTF-8 kodiert.
body-not-an-object = Ungültige JSON-Daten: Es wurde ein Objekt erwartet.
body-invalid-json = Ungültige JSON-Daten: { $detail }.
body-invalid-multipart = Ungültige Multipart-Daten: { $detail }.
unsupported-content-type = Nicht unterstützter Content-Type: Bitte senden Sie application/json, application/x-www-form-urlencoded oder multipart/form-data.

## Validation

errors-format = { $attribute } { $message }
errors-blank = muss ausgefüllt werden
errors-taken = ist bereits vergeben
errors-invalid = ist ungültig
errors-confirmation = stimmt nicht mit { attribute-password } überein
errors-too-short = ist zu kurz (mindestens { $count } Zeichen)
errors-too-long = ist zu lang (höchstens { $count } Zeichen)
errors-too-long-bytes = ist zu lang (höchstens { $count } Bytes)
errors-not-email = ist keine gültige E-Mail-Adresse
attribute-email = E-Mail
attribute-password = Passwort
attribute-password_confirmation = Passwortbestätigung
attribute-current_password = Aktuelles Passwort
attribute-name = Name
attribute-nickname = Nickname
attribute-image = Bild

## Mail

mail-link-line = { $text }: { $link }
mail-hello = Hallo { $email }!
mail-confirmation-subject = Anleitung zur Bestätigung Ihres Kontos
mail-confirmation-welcome = Willkommen, { $email }!
mail-confirmation-body = Sie können die E-Mail-Adresse Ihres Kontos über den folgenden Link bestätigen:
mail-confirmation-link = Mein Konto bestätigen
mail-reset-subject = Anleitung zum Zurücksetzen Ihres Passworts
mail-reset-body = Jemand hat einen Link zum Ändern Ihres Passworts angefordert. Sie können Ihr Passwort über den folgenden Link ändern.
mail-reset-link = Mein Passwort ändern
mail-reset-ignore = Wenn Sie dies nicht angefordert haben, ignorieren Sie diese E-Mail bitte.
mail-reset-unchanged = Ihr Passwort bleibt unverändert, bis Sie den obigen Link aufrufen und ein neues Passwort festlegen.
mail-unlock-subject = Anleitung zum Entsperren Ihres Kontos
mail-unlock-body = Klicken Sie auf den folgenden Link, um Ihr Konto zu entsperren:
mail-unlock-link = Mein Konto entsperren
mail-password-changed-subject = Passwort geändert
mail-password-changed-body = Wir möchten Sie darüber informieren, dass Ihr Passwort geändert wurde.
mail-email-changed-subject = E-Mail-Adresse geändert
mail-email-changed-pending = Wir möchten Sie darüber informieren, dass Ihre E-Mail-Adresse in { $new_email } geändert wird.
mail-email-changed-done = Wir möchten Sie darüber informieren, dass Ihre E-Mail-Adresse in { $new_email } geändert wurde.
