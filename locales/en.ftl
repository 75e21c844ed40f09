# toker's messages in English: devise_token_auth's and Devise's texts, exact (docs/contract.md §7),
# and toker's own. Every other language file has the same ids with the same placeholders.
# Ids are toker's; the comment above each group names the devise_token_auth key it follows.

## Sessions and token validation (sessions.*, token_validations.invalid, Devise failures)

sessions-not-confirmed = A confirmation email was sent to your account at '{ $email }'. You must follow the instructions in the email before your account can be activated
sessions-bad-credentials = Invalid login credentials. Please try again.
sessions-not-supported = Use POST /sign_in to sign in. GET is not supported.
sessions-user-not-found = User was not found or was not logged in.
token-validations-invalid = Invalid login credentials
# devise.mailer.unlock_instructions.account_lock_msg: the locked sign-in error and the unlock mail.
locked = Your account has been locked due to an excessive number of unsuccessful sign in attempts.
last-attempt = You have one more attempt before your account is locked.
unauthenticated = You need to sign in or sign up before continuing.

## Registrations (registrations.*, errors.messages.validate_*)

registrations-missing-confirm-success-url = Missing 'confirm_success_url' parameter.
redirect-not-allowed = Redirect to '{ $redirect_url }' not allowed.
registrations-account-destroyed = Account with UID '{ $uid }' has been destroyed.
registrations-account-to-destroy-not-found = Unable to locate account for destruction.
registrations-user-not-found = User not found.
validate-sign-up-params = Please submit proper sign up data in request body.
validate-account-update-params = Please submit proper account update data in request body.

## Passwords, confirmations and unlocks (passwords.*, confirmations.*, unlocks.*)

missing-email = You must provide an email address.
user-with-email-not-found = Unable to find user with email '{ $email }'.
passwords-missing-redirect-url = Missing redirect URL.
passwords-sent = An email has been sent to '{ $email }' containing instructions for resetting your password.
passwords-sent-paranoid = If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes.
# $provider is humanized: google_oauth2 → Google oauth2.
passwords-not-required = This account does not require a password. Sign in using your '{ $provider }' account instead.
passwords-missing-passwords = You must fill out the fields labeled 'Password' and 'Password confirmation'.
passwords-updated = Your password has been successfully updated.
passwords-unauthorized = Unauthorized
passwords-reset-token-invalid = Reset password token is invalid or has expired.
confirmations-sent = An email has been sent to '{ $email }' containing instructions for confirming your account.
confirmations-sent-paranoid = If your email address exists in our database, you will receive an email with instructions for how to confirm your email address in a few minutes.
unlocks-sent = An email has been sent to '{ $email }' containing instructions for unlocking your account.
unlocks-sent-paranoid = If your account exists, you will receive an email with instructions for how to unlock it in a few minutes.
unlocks-token-invalid = Unlock token is invalid.

## OAuth

unknown-provider = Unknown provider '{ $name }'.
invalid-provider-token = Invalid provider token.
omniauth-no-origin = Signed in, but the request named no allowed auth_origin_url to return to.

## toker's own answers

mail-not-sent = The e-mail could not be sent. Please try again later.
too-many-requests = Too many attempts. Please try again later.
busy = The server is busy. Please try again later.
unavailable = The service is temporarily unavailable. Please try again later.
database-unreachable = Database unreachable.
not-found = Not found.
method-not-allowed = Method not allowed.
internal-error = Internal server error.
body-too-large = Request body is too large.
body-timed-out = Request body not received in time.
body-unreadable = Could not read the request body.
body-not-utf8 = Invalid form body: not UTF-8.
body-not-an-object = Invalid JSON body: expected an object.
# $detail is the JSON parser's own (English) description.
body-invalid-json = Invalid JSON body: { $detail }.
body-invalid-multipart = Invalid multipart body: { $detail }.
unsupported-content-type = Unsupported Content-Type: send application/json, application/x-www-form-urlencoded or multipart/form-data.

## Validation (Rails' errors.format and errors.messages.*, with the attribute names)

# How full_messages join an attribute's name and its message.
errors-format = { $attribute } { $message }
errors-blank = can't be blank
errors-taken = has already been taken
errors-invalid = is invalid
errors-confirmation = doesn't match { attribute-password }
errors-too-short =
    { $count ->
        [one] is too short (minimum is { $count } character)
       *[other] is too short (minimum is { $count } characters)
    }
errors-too-long =
    { $count ->
        [one] is too long (maximum is { $count } character)
       *[other] is too long (maximum is { $count } characters)
    }
errors-too-long-bytes = is too long (maximum is { $count } bytes)
errors-not-email = is not an email
attribute-email = Email
attribute-password = Password
attribute-password_confirmation = Password confirmation
attribute-current_password = Current password
attribute-name = Name
attribute-nickname = Nickname
attribute-image = Image

## Mail (Devise's subjects, devise_token_auth's bodies)

# A link in the plain-text part: its text, then the address.
mail-link-line = { $text }: { $link }
mail-hello = Hello { $email }!
mail-confirmation-subject = Confirmation instructions
mail-confirmation-welcome = Welcome { $email }!
mail-confirmation-body = You can confirm your account email through the link below:
mail-confirmation-link = Confirm my account
mail-reset-subject = Reset password instructions
mail-reset-body = Someone has requested a link to change your password. You can do this through the link below.
mail-reset-link = Change my password
mail-reset-ignore = If you didn't request this, please ignore this email.
mail-reset-unchanged = Your password won't change until you access the link above and create a new one.
mail-unlock-subject = Unlock instructions
mail-unlock-body = Click the link below to unlock your account:
mail-unlock-link = Unlock my account
mail-password-changed-subject = Password Changed
mail-password-changed-body = We're contacting you to notify you that your password has been changed.
mail-email-changed-subject = Email Changed
mail-email-changed-pending = We're contacting you to notify you that your email is being changed to { $new_email }.
mail-email-changed-done = We're contacting you to notify you that your email has been changed to { $new_email }.
