"""The researcher's page for personal API tokens: create (the secret is shown once) and revoke."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .models import ApiToken
from .tokens import TokenError, create_token, revoke_token


@login_required
def token_list(request):
    new_secret = None
    if request.method == "POST":
        try:
            _, new_secret = create_token(request.user, request.POST.get("name", ""))
        except TokenError as error:
            messages.error(request, f"No token created: {error}")
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(request, "api/tokens.html", {"tokens": tokens, "new_secret": new_secret})
    if new_secret:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    revoke_token(token)
    messages.success(request, f"Token '{token.name}' revoked; requests with it are refused from now on.")
    return redirect("api:tokens")
