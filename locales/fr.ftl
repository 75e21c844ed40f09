# toker's messages in French (vouvoiement). Same ids and placeholders as en.ftl.

## Sessions and token validation

sessions-not-confirmed = Un e-mail de confirmation a été envoyé à l'adresse « { $email } » associée à votre compte. Vous devez suivre les instructions qu'il contient pour que votre compte puisse être activé.
sessions-bad-credentials = Identifiants de connexion invalides. Veuillez réessayer.
sessions-not-supported = Utilisez POST /sign_in pour vous connecter. GET n'est pas pris en charge.
sessions-user-not-found = L'utilisateur est introuvable ou n'est pas connecté.
token-validations-invalid = Identifiants de connexion invalides
locked = Votre compte a été verrouillé en raison d'un trop grand nombre de tentatives de connexion infructueuses.
last-attempt = Il vous reste une tentative avant le verrouillage de votre compte.
unauthenticated = Vous devez vous connecter ou vous inscrire pour continuer.

## Registrations

registrations-missing-confirm-success-url = Le paramètre « confirm_success_url » est manquant.
redirect-not-allowed = La redirection vers « { $redirect_url } » n'est pas autorisée.
registrations-account-destroyed = Le compte avec l'UID « { $uid } » a été supprimé.
registrations-account-to-destroy-not-found = Le compte à supprimer est introuvable.
registrations-user-not-found = Utilisateur introuvable.
validate-sign-up-params = Veuillez fournir des données d'inscription valides dans le corps de la requête.
validate-account-update-params = Veuillez fournir des données de mise à jour du compte valides dans le corps de la requête.

## Passwords, confirmations and unlocks

missing-email = Vous devez indiquer une adresse e-mail.
user-with-email-not-found = Aucun utilisateur trouvé avec l'adresse e-mail « { $email } ».
passwords-missing-redirect-url = L'URL de redirection est manquante.
passwords-sent = Un e-mail contenant les instructions pour réinitialiser votre mot de passe a été envoyé à « { $email } ».
passwords-sent-paranoid = Si votre adresse e-mail figure dans notre base de données, vous recevrez d'ici quelques minutes un e-mail contenant un lien pour récupérer votre mot de passe.
passwords-not-required = Ce compte ne nécessite pas de mot de passe. Connectez-vous plutôt avec votre compte « { $provider } ».
passwords-missing-passwords = Vous devez remplir les champs « Mot de passe » et « Confirmation du mot de passe ».
passwords-updated = Votre mot de passe a bien été modifié.
passwords-unauthorized = Non autorisé
passwords-reset-token-invalid = Le lien de réinitialisation du mot de passe est invalide ou a expiré.
confirmations-sent = Un e-mail contenant les instructions pour confirmer votre compte a été envoyé à « { $email } ».
confirmations-sent-paranoid = Si votre adresse e-mail figure dans notre base de données, vous recevrez d'ici quelques minutes un e-mail expliquant comment la confirmer.
unlocks-sent = Un e-mail contenant les instructions pour déverrouiller votre compte a été envoyé à « { $email } ».
unlocks-sent-paranoid = Si votre compte existe, vous recevrez d'ici quelques minutes un e-mail expliquant comment le déverrouiller.
unlocks-token-invalid = Le lien de déverrouillage est invalide.

## OAuth

unknown-provider = Fournisseur inconnu « { $name } ».
invalid-provider-token = Jeton du fournisseur invalide.
omniauth-no-origin = Vous êtes connecté, mais la requête n'indique aucune auth_origin_url autorisée vers laquelle revenir.

## toker's own answers

mail-not-sent = L'e-mail n'a pas pu être envoyé. Veuillez réessayer plus tard.
too-many-requests = Trop de tentatives. Veuillez réessayer plus tard.
busy = Le serveur est surchargé. Veuillez réessayer plus tard.
unavailable = Le service est temporairement indisponible. Veuillez réessayer plus tard.
database-unreachable = Base de données inaccessible.
not-found = Introuvable.
method-not-allowed = Méthode non autorisée.
internal-error = Erreur interne du serveur.
body-too-large = Le corps de la requête est trop volumineux.
body-timed-out = Le corps de la requête n'a pas été reçu à temps.
body-unreadable = Impossible de lire le corps de la requête.
body-not-utf8 = Corps de formulaire invalide : il n'est pas encodé en UTF-8.
body-not-an-object = Corps JSON invalide : un objet est attendu.
body-invalid-json = Corps JSON invalide : { $detail }.
body-invalid-multipart = Corps multipart invalide : { $detail }.
unsupported-content-type = Content-Type non pris en charge : envoyez application/json, application/x-www-form-urlencoded ou multipart/form-data.

## Validation

errors-format = { $attribute } { $message }
errors-blank = ne peut pas être vide
errors-taken = n'est pas disponible
errors-invalid = n'est pas valide
errors-confirmation = ne correspond pas au champ { attribute-password }
errors-too-short =
    { $count ->
        [one] doit contenir au moins { $count } caractère
       *[other] doit contenir au moins { $count } caractères
    }
errors-too-long =
    { $count ->
        [one] ne doit pas dépasser { $count } caractère
       *[other] ne doit pas dépasser { $count } caractères
    }
errors-too-long-bytes = ne doit pas dépasser { $count } octets
errors-not-email = n'est pas une adresse e-mail valide
attribute-email = E-mail
attribute-password = Mot de passe
attribute-password_confirmation = Confirmation du mot de passe
attribute-current_password = Mot de passe actuel
attribute-name = Nom
attribute-nickname = Pseudonyme
attribute-image = Image

## Mail

mail-link-line = { $text } : { $link }
mail-hello = Bonjour { $email },
mail-confirmation-subject = Instructions de confirmation
mail-confirmation-welcome = Bienvenue { $email } !
mail-confirmation-body = Vous pouvez confirmer l'adresse e-mail de votre compte grâce au lien ci-dessous :
mail-confirmation-link = Confirmer mon compte
mail-reset-subject = Instructions de réinitialisation du mot de passe
mail-reset-body = Quelqu'un a demandé un lien pour modifier votre mot de passe. Vous pouvez le faire grâce au lien ci-dessous.
mail-reset-link = Modifier mon mot de passe
mail-reset-ignore = Si vous n'êtes pas à l'origine de cette demande, veuillez ignorer cet e-mail.
mail-reset-unchanged = Votre mot de passe ne changera pas tant que vous n'aurez pas ouvert le lien ci-dessus pour en créer un nouveau.
mail-unlock-subject = Instructions de déverrouillage
mail-unlock-body = Cliquez sur le lien ci-dessous pour déverrouiller votre compte :
mail-unlock-link = Déverrouiller mon compte
mail-password-changed-subject = Mot de passe modifié
mail-password-changed-body = Nous vous informons que votre mot de passe a été modifié.
mail-email-changed-subject = Adresse e-mail modifiée
mail-email-changed-pending = Nous vous informons que votre adresse e-mail est en cours de remplacement par { $new_email }.
mail-email-changed-done = Nous vous informons que votre adresse e-mail a été remplacée par { $new_email }.
