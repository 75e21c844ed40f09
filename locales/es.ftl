# toker's messages in Spanish (usted). Same ids and placeholders as en.ftl.

## Sessions and token validation

sessions-not-confirmed = Se ha enviado un correo de confirmación a la dirección «{ $email }» de su cuenta. Debe seguir las instrucciones del correo antes de que su cuenta pueda activarse.
sessions-bad-credentials = Credenciales de inicio de sesión no válidas. Inténtelo de nuevo.
sessions-not-supported = Use POST /sign_in para iniciar sesión. No se admite GET.
sessions-user-not-found = No se encontró el usuario o no ha iniciado sesión.
token-validations-invalid = Credenciales de inicio de sesión no válidas
locked = Su cuenta se ha bloqueado debido a un número excesivo de intentos fallidos de inicio de sesión.
last-attempt = Le queda un intento antes de que su cuenta se bloquee.
unauthenticated = Debe iniciar sesión o registrarse para continuar.

## Registrations

registrations-missing-confirm-success-url = Falta el parámetro «confirm_success_url».
redirect-not-allowed = No se permite la redirección a «{ $redirect_url }».
registrations-account-destroyed = La cuenta con UID «{ $uid }» se ha eliminado.
registrations-account-to-destroy-not-found = No se encontró la cuenta que se desea eliminar.
registrations-user-not-found = Usuario no encontrado.
validate-sign-up-params = Envíe datos de registro válidos en el cuerpo de la solicitud.
validate-account-update-params = Envíe datos válidos para actualizar la cuenta en el cuerpo de la solicitud.

## Passwords, confirmations and unlocks

missing-email = Debe indicar una dirección de correo electrónico.
user-with-email-not-found = No se encontró ningún usuario con la dirección de correo electrónico «{ $email }».
passwords-missing-redirect-url = Falta la URL de redirección.
passwords-sent = Se ha enviado a «{ $email }» un correo con instrucciones para restablecer su contraseña.
passwords-sent-paranoid = Si su dirección de correo electrónico figura en nuestra base de datos, recibirá en unos minutos un enlace para recuperar su contraseña.
passwords-not-required = Esta cuenta no requiere contraseña. Inicie sesión con su cuenta de «{ $provider }».
passwords-missing-passwords = Debe rellenar los campos «Contraseña» y «Confirmación de contraseña».
passwords-updated = Su contraseña se ha actualizado correctamente.
passwords-unauthorized = No autorizado
passwords-reset-token-invalid = El enlace para restablecer la contraseña no es válido o ha caducado.
confirmations-sent = Se ha enviado a «{ $email }» un correo con instrucciones para confirmar su cuenta.
confirmations-sent-paranoid = Si su dirección de correo electrónico figura en nuestra base de datos, recibirá en unos minutos un correo con instrucciones para confirmarla.
unlocks-sent = Se ha enviado a «{ $email }» un correo con instrucciones para desbloquear su cuenta.
unlocks-sent-paranoid = Si su cuenta existe, recibirá en unos minutos un correo con instrucciones para desbloquearla.
unlocks-token-invalid = El enlace de desbloqueo no es válido.

## OAuth

unknown-provider = Proveedor desconocido «{ $name }».
invalid-provider-token = Token del proveedor no válido.
omniauth-no-origin = Ha iniciado sesión, pero la solicitud no indicó ninguna auth_origin_url permitida a la que volver.

## toker's own answers

mail-not-sent = No se pudo enviar el correo. Inténtelo de nuevo más tarde.
too-many-requests = Demasiados intentos. Inténtelo de nuevo más tarde.
busy = El servidor está ocupado. Inténtelo de nuevo más tarde.
unavailable = El servicio no está disponible temporalmente. Inténtelo de nuevo más tarde.
database-unreachable = No se puede acceder a la base de datos.
not-found = No encontrado.
method-not-allowed = Método no permitido.
internal-error = Error interno del servidor.
body-too-large = El cuerpo de la solicitud es demasiado grande.
body-timed-out = El cuerpo de la solicitud no llegó a tiempo.
body-unreadable = No se pudo leer el cuerpo de la solicitud.
body-not-utf8 = Cuerpo de formulario no válido: no está en UTF-8.
body-not-an-object = Cuerpo JSON no válido: se esperaba un objeto.
body-invalid-json = Cuerpo JSON no válido: { $detail }.
body-invalid-multipart = Cuerpo multipart no válido: { $detail }.
unsupported-content-type = Content-Type no admitido: envíe application/json, application/x-www-form-urlencoded o multipart/form-data.

## Validation

errors-format = { $attribute } { $message }
errors-blank = no puede estar en blanco
errors-taken = ya está en uso
errors-invalid = tiene un valor no válido
errors-confirmation = no coincide con { attribute-password }
errors-too-short =
    { $count ->
        [one] debe tener al menos { $count } carácter
       *[other] debe tener al menos { $count } caracteres
    }
errors-too-long =
    { $count ->
        [one] no puede tener más de { $count } carácter
       *[other] no puede tener más de { $count } caracteres
    }
errors-too-long-bytes = no puede tener más de { $count } bytes
errors-not-email = no tiene un formato de correo electrónico válido
attribute-email = Correo electrónico
attribute-password = Contraseña
attribute-password_confirmation = Confirmación de contraseña
attribute-current_password = Contraseña actual
attribute-name = Nombre
attribute-nickname = Apodo
attribute-image = Imagen

## Mail

mail-link-line = { $text }: { $link }
mail-hello = Hola, { $email }:
mail-confirmation-subject = Instrucciones de confirmación
mail-confirmation-welcome = ¡Le damos la bienvenida, { $email }!
mail-confirmation-body = Puede confirmar la dirección de correo electrónico de su cuenta mediante el siguiente enlace:
mail-confirmation-link = Confirmar mi cuenta
mail-reset-subject = Instrucciones para restablecer la contraseña
mail-reset-body = Alguien ha solicitado un enlace para cambiar su contraseña. Puede hacerlo mediante el siguiente enlace.
mail-reset-link = Cambiar mi contraseña
mail-reset-ignore = Si no lo ha solicitado usted, ignore este correo.
mail-reset-unchanged = Su contraseña no cambiará hasta que acceda al enlace anterior y cree una nueva.
mail-unlock-subject = Instrucciones de desbloqueo
mail-unlock-body = Haga clic en el siguiente enlace para desbloquear su cuenta:
mail-unlock-link = Desbloquear mi cuenta
mail-password-changed-subject = Contraseña cambiada
mail-password-changed-body = Le escribimos para informarle de que se ha cambiado su contraseña.
mail-email-changed-subject = Dirección de correo electrónico cambiada
mail-email-changed-pending = Le escribimos para informarle de que su dirección de correo electrónico se está cambiando a { $new_email }.
mail-email-changed-done = Le escribimos para informarle de que su dirección de correo electrónico se ha cambiado a { $new_email }.
