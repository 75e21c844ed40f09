# toker's messages in Simplified Chinese (书面语，称"您"). Same ids and placeholders as en.ftl.

## Sessions and token validation

sessions-not-confirmed = 确认邮件已发送至您账户的邮箱地址“{ $email }”。请按照邮件中的说明操作，以激活您的账户。
sessions-bad-credentials = 登录信息无效，请重试。
sessions-not-supported = 请使用 POST /sign_in 登录，不支持 GET。
sessions-user-not-found = 未找到该用户，或该用户未登录。
token-validations-invalid = 登录信息无效
locked = 由于登录失败次数过多，您的账户已被锁定。
last-attempt = 您还有一次尝试机会，再次失败后账户将被锁定。
unauthenticated = 请先登录或注册再继续。

## Registrations

registrations-missing-confirm-success-url = 缺少参数“confirm_success_url”。
redirect-not-allowed = 不允许重定向到“{ $redirect_url }”。
registrations-account-destroyed = UID 为“{ $uid }”的账户已被删除。
registrations-account-to-destroy-not-found = 找不到要删除的账户。
registrations-user-not-found = 未找到用户。
validate-sign-up-params = 请在请求正文中提交有效的注册信息。
validate-account-update-params = 请在请求正文中提交有效的账户更新信息。

## Passwords, confirmations and unlocks

missing-email = 请提供邮箱地址。
user-with-email-not-found = 找不到邮箱地址为“{ $email }”的用户。
passwords-missing-redirect-url = 缺少重定向 URL。
passwords-sent = 包含重置密码说明的邮件已发送至“{ $email }”。
passwords-sent-paranoid = 如果您的邮箱地址已在我们的系统中注册，您将在几分钟内收到一封包含密码找回链接的邮件。
passwords-not-required = 此账户无需密码，请改用您的“{ $provider }”账户登录。
passwords-missing-passwords = 请填写“密码”和“确认密码”两栏。
passwords-updated = 您的密码已成功更改。
passwords-unauthorized = 未授权
passwords-reset-token-invalid = 重置密码链接无效或已过期。
confirmations-sent = 包含账户确认说明的邮件已发送至“{ $email }”。
confirmations-sent-paranoid = 如果您的邮箱地址已在我们的系统中注册，您将在几分钟内收到一封包含邮箱确认说明的邮件。
unlocks-sent = 包含账户解锁说明的邮件已发送至“{ $email }”。
unlocks-sent-paranoid = 如果您的账户存在，您将在几分钟内收到一封包含解锁说明的邮件。
unlocks-token-invalid = 解锁链接无效。

## OAuth

unknown-provider = 未知的身份提供方“{ $name }”。
invalid-provider-token = 身份提供方的令牌无效。
omniauth-no-origin = 您已登录，但请求中没有指定允许返回的 auth_origin_url。

## toker's own answers

mail-not-sent = 邮件发送失败，请稍后重试。
too-many-requests = 尝试次数过多，请稍后重试。
busy = 服务器繁忙，请稍后重试。
unavailable = 服务暂时不可用，请稍后重试。
database-unreachable = 无法连接到数据库。
not-found = 未找到。
method-not-allowed = 不允许使用该请求方法。
internal-error = 服务器内部错误。
body-too-large = 请求正文过大。
body-timed-out = 未能及时收到请求正文。
body-unreadable = 无法读取请求正文。
body-not-utf8 = 表单正文无效：不是 UTF-8 编码。
body-not-an-object = JSON 正文无效：应为对象。
body-invalid-json = JSON 正文无效：{ $detail }。
body-invalid-multipart = multipart 正文无效：{ $detail }。
unsupported-content-type = 不支持该 Content-Type，请使用 application/json、application/x-www-form-urlencoded 或 multipart/form-data 发送。

## Validation (Chinese joins the attribute and its message without a space)

errors-format = { $attribute }{ $message }
errors-blank = 不能为空
errors-taken = 已被使用
errors-invalid = 不正确
errors-confirmation = 与{ attribute-password }不一致
errors-too-short = 过短（至少 { $count } 个字符）
errors-too-long = 过长（最多 { $count } 个字符）
errors-too-long-bytes = 过长（最多 { $count } 个字节）
errors-not-email = 不是有效的邮箱地址
attribute-email = 邮箱
attribute-password = 密码
attribute-password_confirmation = 确认密码
attribute-current_password = 当前密码
attribute-name = 姓名
attribute-nickname = 昵称
attribute-image = 头像

## Mail

mail-link-line = { $text }：{ $link }
mail-hello = { $email }，您好！
mail-confirmation-subject = 账户确认说明
mail-confirmation-welcome = 欢迎您，{ $email }！
mail-confirmation-body = 您可以通过以下链接确认您的账户邮箱地址：
mail-confirmation-link = 确认我的账户
mail-reset-subject = 重置密码说明
mail-reset-body = 有人申请了更改您密码的链接。您可以通过以下链接更改密码。
mail-reset-link = 更改我的密码
mail-reset-ignore = 如果这不是您本人的操作，请忽略此邮件。
mail-reset-unchanged = 在您访问上方的链接并设置新密码之前，您的密码不会改变。
mail-unlock-subject = 账户解锁说明
mail-unlock-body = 请点击以下链接解锁您的账户：
mail-unlock-link = 解锁我的账户
mail-password-changed-subject = 密码已更改
mail-password-changed-body = 特此通知，您的密码已被更改。
mail-email-changed-subject = 邮箱地址已更改
mail-email-changed-pending = 特此通知，您的邮箱地址正在更改为 { $new_email }。
mail-email-changed-done = 特此通知，您的邮箱地址已更改为 { $new_email }。
