# toker's messages in Japanese (です・ます調). Same ids and placeholders as en.ftl.

## Sessions and token validation

sessions-not-confirmed = 確認メールを「{ $email }」宛てに送信しました。アカウントを有効にするには、メールに記載された手順に従ってください。
sessions-bad-credentials = ログイン情報が正しくありません。もう一度お試しください。
sessions-not-supported = ログインには POST /sign_in を使用してください。GET には対応していません。
sessions-user-not-found = ユーザーが見つからないか、ログインしていません。
token-validations-invalid = ログイン情報が正しくありません
locked = ログインの失敗が規定の回数を超えたため、アカウントがロックされました。
last-attempt = あと1回失敗すると、アカウントがロックされます。
unauthenticated = 続行するには、ログインまたはアカウント登録を行ってください。

## Registrations

registrations-missing-confirm-success-url = パラメーター「confirm_success_url」が指定されていません。
redirect-not-allowed = 「{ $redirect_url }」へのリダイレクトは許可されていません。
registrations-account-destroyed = UID「{ $uid }」のアカウントを削除しました。
registrations-account-to-destroy-not-found = 削除するアカウントが見つかりません。
registrations-user-not-found = ユーザーが見つかりません。
validate-sign-up-params = リクエスト本文に正しい登録情報を指定してください。
validate-account-update-params = リクエスト本文に正しいアカウント更新情報を指定してください。

## Passwords, confirmations and unlocks

missing-email = メールアドレスを入力してください。
user-with-email-not-found = メールアドレス「{ $email }」のユーザーが見つかりません。
passwords-missing-redirect-url = リダイレクト先の URL が指定されていません。
passwords-sent = パスワードの再設定手順を記載したメールを「{ $email }」宛てに送信しました。
passwords-sent-paranoid = メールアドレスが登録されている場合は、数分以内にパスワード再設定用のリンクがメールで届きます。
passwords-not-required = このアカウントにはパスワードは不要です。「{ $provider }」のアカウントでログインしてください。
passwords-missing-passwords = 「パスワード」と「パスワード（確認）」の両方を入力してください。
passwords-updated = パスワードを変更しました。
passwords-unauthorized = 認証されていません
passwords-reset-token-invalid = パスワード再設定用のリンクが無効か、有効期限が切れています。
confirmations-sent = アカウントの確認手順を記載したメールを「{ $email }」宛てに送信しました。
confirmations-sent-paranoid = メールアドレスが登録されている場合は、数分以内にメールアドレスの確認手順を記載したメールが届きます。
unlocks-sent = アカウントのロック解除手順を記載したメールを「{ $email }」宛てに送信しました。
unlocks-sent-paranoid = アカウントが存在する場合は、数分以内にロック解除の手順を記載したメールが届きます。
unlocks-token-invalid = ロック解除用のリンクが無効です。

## OAuth

unknown-provider = 不明なプロバイダー「{ $name }」です。
invalid-provider-token = プロバイダーのトークンが無効です。
omniauth-no-origin = ログインしましたが、リクエストに戻り先として許可された auth_origin_url が指定されていません。

## toker's own answers

mail-not-sent = メールを送信できませんでした。しばらくしてからもう一度お試しください。
too-many-requests = 試行回数が多すぎます。しばらくしてからもう一度お試しください。
busy = サーバーが混み合っています。しばらくしてからもう一度お試しください。
unavailable = 現在、サービスを一時的にご利用いただけません。しばらくしてからもう一度お試しください。
database-unreachable = データベースに接続できません。
not-found = 見つかりません。
method-not-allowed = このメソッドは許可されていません。
internal-error = サーバー内部でエラーが発生しました。
body-too-large = リクエスト本文が大きすぎます。
body-timed-out = リクエスト本文が時間内に届きませんでした。
body-unreadable = リクエスト本文を読み取れませんでした。
body-not-utf8 = フォームの本文が不正です：UTF-8 ではありません。
body-not-an-object = JSON の本文が不正です：オブジェクトを指定してください。
body-invalid-json = JSON の本文が不正です：{ $detail }。
body-invalid-multipart = マルチパートの本文が不正です：{ $detail }。
unsupported-content-type = この Content-Type には対応していません。application/json、application/x-www-form-urlencoded、multipart/form-data のいずれかで送信してください。

## Validation (Japanese joins the attribute and its message without a space)

errors-format = { $attribute }{ $message }
errors-blank = を入力してください
errors-taken = はすでに使用されています
errors-invalid = が正しくありません
errors-confirmation = が{ attribute-password }と一致しません
errors-too-short = は{ $count }文字以上で入力してください
errors-too-long = は{ $count }文字以内で入力してください
errors-too-long-bytes = は{ $count }バイト以内で入力してください
errors-not-email = は有効なメールアドレスではありません
attribute-email = メールアドレス
attribute-password = パスワード
attribute-password_confirmation = パスワード（確認）
attribute-current_password = 現在のパスワード
attribute-name = 名前
attribute-nickname = ニックネーム
attribute-image = 画像

## Mail

mail-link-line = { $text }：{ $link }
mail-hello = { $email } 様
mail-confirmation-subject = アカウント確認のご案内
mail-confirmation-welcome = { $email } 様、ご登録ありがとうございます。
mail-confirmation-body = 以下のリンクから、アカウントのメールアドレスを確認できます。
mail-confirmation-link = アカウントを確認する
mail-reset-subject = パスワード再設定のご案内
mail-reset-body = パスワード変更用リンクの送信がリクエストされました。以下のリンクからパスワードを変更できます。
mail-reset-link = パスワードを変更する
mail-reset-ignore = このリクエストにお心当たりがない場合は、このメールを無視してください。
mail-reset-unchanged = 上記のリンクにアクセスして新しいパスワードを設定するまで、パスワードは変更されません。
mail-unlock-subject = アカウントのロック解除のご案内
mail-unlock-body = 以下のリンクをクリックして、アカウントのロックを解除してください。
mail-unlock-link = アカウントのロックを解除する
mail-password-changed-subject = パスワード変更のお知らせ
mail-password-changed-body = お客様のパスワードが変更されたことをお知らせします。
mail-email-changed-subject = メールアドレス変更のお知らせ
mail-email-changed-pending = お客様のメールアドレスを { $new_email } に変更する手続きが行われていることをお知らせします。
mail-email-changed-done = お客様のメールアドレスが { $new_email } に変更されたことをお知らせします。
