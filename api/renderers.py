"""The browsable API's HTML pages under the site's content security policy."""
from rest_framework.renderers import BrowsableAPIRenderer


class PolicyBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's pages, with the two things they need that the site's policy (no 'unsafe-inline') refuses handled here.

    - Their templates lay out the toolbar, filters and forms with `style="..."` attributes. An attribute runs no
      script, so only `style-src-attr 'unsafe-inline'` is granted, on these pages alone; `<style>` and `<script>`
      elements stay limited to the site and the request's nonce.
    - With Pygments installed, DRF writes its highlighting CSS into an inline `<style>` element; the pages already
      highlight responses with their own stylesheet (prettify.css), so that element is left out.
    """

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        context["code_style"] = None
        return context

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {**(getattr(response, "_csp_update", None) or {}), "style-src-attr": ["'unsafe-inline'"]}
        return super().render(data, accepted_media_type, renderer_context)
