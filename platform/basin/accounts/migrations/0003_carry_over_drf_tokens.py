"""DRF's plain-text tokens (rest_framework.authtoken, no longer installed) become knox tokens kept as
digests, so a student logged in before keeps working with the same key: knox finds a token by its
first 15 characters and compares a SHA-512 digest of the whole key, which a 40-character DRF key
has as well as a knox one. The old table, the last place the keys were written in clear, is then
dropped, and its app's migration records with it (it could be installed again from scratch).

Carried-over tokens have no expiry of their own (a course's token lifetime applies to them from
when they were made), and count as made under the account's password of now (no change counted
yet), so a new password revokes them like any other."""
from django.db import migrations
from knox.crypto import hash_token

OLD_TABLE = "authtoken_token"
TOKEN_KEY_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH


def carry_over(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return  # a database made after DRF's tokens were gone
    ApiToken = apps.get_model("accounts", "ApiToken")
    User = apps.get_model("auth", "User")
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {q('key')}, {q('user_id')}, {q('created')} FROM {q(OLD_TABLE)}")
        rows = cursor.fetchall()
    users = set(User.objects.filter(pk__in=[user_id for _, user_id, _ in rows]).values_list("pk", flat=True))
    for key, user_id, created in rows:
        if user_id not in users:
            continue
        token = ApiToken.objects.create(
            digest=hash_token(key),
            token_key=key[:TOKEN_KEY_LENGTH], user_id=user_id, expiry=None, label="basin login",
            password_changes=0)
        ApiToken.objects.filter(pk=token.pk).update(created=created)  # auto_now_add: set after
    schema_editor.execute(f"DROP TABLE {q(OLD_TABLE)}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    # Backwards there is nothing to undo: a digest gives no key back.
    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
