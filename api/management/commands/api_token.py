"""python manage.py api_token create USER --name NAME | list USER | revoke USER PREFIX_OR_ID"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.models import ApiToken
from api.tokens import TokenError, create_token, revoke_token


class Command(BaseCommand):
    help = "Create, list or revoke a researcher's personal API tokens (a new token is printed once, never stored)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a token and print it.")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="What the token is for.")
        listing = actions.add_parser("list", help="The user's tokens (prefix, name, state).")
        listing.add_argument("username")
        revoke = actions.add_parser("revoke", help="Revoke a token by its id or the prefix `list` shows.")
        revoke.add_argument("username")
        revoke.add_argument("token", help="Token id or prefix.")

    def handle(self, *args, **options):
        user = self._user(options["username"])
        if options["action"] == "create":
            try:
                record, secret = create_token(user, options["name"])
            except TokenError as error:
                raise CommandError(str(error)) from None
            self.stderr.write(f"token {record.pk} '{record.name}' for {user}: copy it now, it is not shown again")
            self.stdout.write(secret)
        elif options["action"] == "list":
            for token in ApiToken.objects.filter(user=user):
                state = "active" if token.is_active else f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
                self.stdout.write(f"{token.pk}\t{token.prefix}…\t{token.name}\t{state}")
        else:
            token = self._token(user, options["token"])
            revoke_token(token)
            self.stdout.write(f"revoked token {token.pk} '{token.name}' ({token.prefix}…)")

    def _user(self, username):
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None

    def _token(self, user, given):
        tokens = ApiToken.objects.filter(user=user)
        matches = list(tokens.filter(pk=int(given))) if given.isdigit() else list(tokens.filter(prefix__startswith=given[:16]))
        if not matches and not given.isdigit():
            matches = [t for t in tokens if given.startswith(t.prefix)]
        if len(matches) != 1:
            found = "no token" if not matches else f"{len(matches)} tokens"
            raise CommandError(f"{found} of {user} match {given!r}; give the id `api_token list {user}` shows")
        return matches[0]
