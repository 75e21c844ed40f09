# toker's messages in Brazilian Portuguese (tratamento por "você"). Same ids and placeholders as en.ftl.

## Sessions and token validation

sessions-not-confirmed = Um e-mail de confirmação foi enviado para o endereço “{ $email }” da sua conta. Você precisa seguir as instruções do e-mail para que sua conta possa ser ativada.
sessions-bad-credentials = Credenciais de login inválidas. Tente novamente.
sessions-not-supported = Use POST /sign_in para fazer login. GET não é suportado.
sessions-user-not-found = O usuário não foi encontrado ou não fez login.
token-validations-invalid = Credenciais de login inválidas
locked = Sua conta foi bloqueada devido a um número excessivo de tentativas de login malsucedidas.
last-attempt = Você tem mais uma tentativa antes que sua conta seja bloqueada.
unauthenticated = Você precisa fazer login ou se cadastrar para continuar.

## Registrations

registrations-missing-confirm-success-url = Falta o parâmetro “confirm_success_url”.
redirect-not-allowed = O redirecionamento para “{ $redirect_url }” não é permitido.
registrations-account-destroyed = A conta com UID “{ $uid }” foi excluída.
registrations-account-to-destroy-not-found = Não foi possível encontrar a conta a ser excluída.
registrations-user-not-found = Usuário não encontrado.
validate-sign-up-params = Envie dados de cadastro válidos no corpo da requisição.
validate-account-update-params = Envie dados válidos de atualização da conta no corpo da requisição.

## Passwords, confirmations and unlocks

missing-email = Você precisa informar um endereço de e-mail.
user-with-email-not-found = Nenhum usuário encontrado com o e-mail “{ $email }”.
passwords-missing-redirect-url = Falta a URL de redirecionamento.
passwords-sent = Um e-mail com instruções para redefinir sua senha foi enviado para “{ $email }”.
passwords-sent-paranoid = Se o seu e-mail estiver cadastrado em nosso banco de dados, você receberá em alguns minutos um link para recuperar sua senha.
passwords-not-required = Esta conta não exige senha. Em vez disso, faça login com sua conta “{ $provider }”.
passwords-missing-passwords = Você precisa preencher os campos “Senha” e “Confirmação de senha”.
passwords-updated = Sua senha foi alterada com sucesso.
passwords-unauthorized = Não autorizado
passwords-reset-token-invalid = O link de redefinição de senha é inválido ou expirou.
confirmations-sent = Um e-mail com instruções para confirmar sua conta foi enviado para “{ $email }”.
confirmations-sent-paranoid = Se o seu e-mail estiver cadastrado em nosso banco de dados, você receberá em alguns minutos um e-mail com instruções para confirmá-lo.
unlocks-sent = Um e-mail com instruções para desbloquear sua conta foi enviado para “{ $email }”.
unlocks-sent-paranoid = Se a sua conta existir, você receberá em alguns minutos um e-mail com instruções para desbloqueá-la.
unlocks-token-invalid = O link de desbloqueio é inválido.

## OAuth

unknown-provider = Provedor desconhecido “{ $name }”.
invalid-provider-token = Token do provedor inválido.
omniauth-no-origin = Você fez login, mas a requisição não indicou nenhuma auth_origin_url permitida para onde retornar.

## toker's own answers

mail-not-sent = Não foi possível enviar o e-mail. Tente novamente mais tarde.
too-many-requests = Muitas tentativas. Tente novamente mais tarde.
busy = O servidor está ocupado. Tente novamente mais tarde.
unavailable = O serviço está temporariamente indisponível. Tente novamente mais tarde.
database-unreachable = Banco de dados inacessível.
not-found = Não encontrado.
method-not-allowed = Método não permitido.
internal-error = Erro interno do servidor.
body-too-large = O corpo da requisição é grande demais.
body-timed-out = O corpo da requisição não chegou a tempo.
body-unreadable = Não foi possível ler o corpo da requisição.
body-not-utf8 = Corpo de formulário inválido: não está em UTF-8.
body-not-an-object = Corpo JSON inválido: era esperado um objeto.
body-invalid-json = Corpo JSON inválido: { $detail }.
body-invalid-multipart = Corpo multipart inválido: { $detail }.
unsupported-content-type = Content-Type não suportado: envie application/json, application/x-www-form-urlencoded ou multipart/form-data.

## Validation

errors-format = { $attribute } { $message }
errors-blank = não pode ficar em branco
errors-taken = já está em uso
errors-invalid = tem um valor inválido
errors-confirmation = não confere com { attribute-password }
errors-too-short =
    { $count ->
        [one] deve ter pelo menos { $count } caractere
       *[other] deve ter pelo menos { $count } caracteres
    }
errors-too-long =
    { $count ->
        [one] deve ter no máximo { $count } caractere
       *[other] deve ter no máximo { $count } caracteres
    }
errors-too-long-bytes = deve ter no máximo { $count } bytes
errors-not-email = não é um e-mail válido
attribute-email = E-mail
attribute-password = Senha
attribute-password_confirmation = Confirmação de senha
attribute-current_password = Senha atual
attribute-name = Nome
attribute-nickname = Apelido
attribute-image = Imagem

## Mail

mail-link-line = { $text }: { $link }
mail-hello = Olá, { $email }!
mail-confirmation-subject = Instruções de confirmação
mail-confirmation-welcome = Boas-vindas, { $email }!
mail-confirmation-body = Você pode confirmar o e-mail da sua conta pelo link abaixo:
mail-confirmation-link = Confirmar minha conta
mail-reset-subject = Instruções para redefinir a senha
mail-reset-body = Alguém solicitou um link para alterar sua senha. Você pode fazer isso pelo link abaixo.
mail-reset-link = Alterar minha senha
mail-reset-ignore = Se você não fez essa solicitação, ignore este e-mail.
mail-reset-unchanged = Sua senha não será alterada até que você acesse o link acima e crie uma nova.
mail-unlock-subject = Instruções de desbloqueio
mail-unlock-body = Clique no link abaixo para desbloquear sua conta:
mail-unlock-link = Desbloquear minha conta
mail-password-changed-subject = Senha alterada
mail-password-changed-body = Estamos entrando em contato para informar que sua senha foi alterada.
mail-email-changed-subject = E-mail alterado
mail-email-changed-pending = Estamos entrando em contato para informar que seu e-mail está sendo alterado para { $new_email }.
mail-email-changed-done = Estamos entrando em contato para informar que seu e-mail foi alterado para { $new_email }.
