"""The study builder's form: what create_study needs, from a researcher's browser."""
from __future__ import annotations

import re

from django import forms

from explain.models import Explanation, Method, Network

from .errors import StudyError
from .exclusions import checked_policy_text
from .labelling import DEFAULT_RANDOM_IMAGES, DEFAULT_TOP_IMAGES
from .models import Study
from .studies import MAX_METHODS, MIN_METHODS

RESERVED_NAMES = {"new"}
_UNIT_LINE = re.compile(r"^\s*([^:\s]+)\s*:\s*(.+?)\s*$")


class StudyBuilderForm(forms.Form):
    network = forms.ModelChoiceField(queryset=Network.objects.order_by("name"), to_field_name="name")
    methods = forms.ModelMultipleChoiceField(
        queryset=Method.objects.order_by("name"), to_field_name="name", widget=forms.CheckboxSelectMultiple,
        help_text=f"{MIN_METHODS} to {MAX_METHODS} methods (labelling: 1 to {MAX_METHODS}); each shows one description per neuron.",
    )
    layers = forms.MultipleChoiceField(choices=(), widget=forms.CheckboxSelectMultiple, required=False,
                                       help_text="None ticked: every layer.")
    selection = forms.ChoiceField(choices=[("random", "Random neurons per layer (from the seed)"),
                                           ("list", "The units listed below")], initial="random",
                                  widget=forms.RadioSelect)
    per_layer = forms.IntegerField(min_value=1, max_value=100_000, initial=20, label="Neurons per layer")
    seed = forms.IntegerField(initial=0)
    unit_list = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Listed units",
        help_text="One line per layer, e.g. 'layer1: 0, 5, 12'.",
    )
    kind = forms.ChoiceField(
        choices=Study.Kind.choices, initial=Study.Kind.RATING, widget=forms.RadioSelect, label="Kind of study", required=False,
        help_text="Labelling: one task per neuron and method, asking per image whether it shows the description "
                  "(1 method or more; images per task = top + random; raters per neuron count per description).",
    )
    top_images_per_task = forms.IntegerField(min_value=0, max_value=50, required=False, label="Top images (labelling)",
                                             help_text=f"Default {DEFAULT_TOP_IMAGES}.")
    random_images_per_task = forms.IntegerField(min_value=0, max_value=50, required=False,
                                                label="Random images (labelling)", help_text=f"Default {DEFAULT_RANDOM_IMAGES}.")
    raters_per_neuron = forms.IntegerField(min_value=1, max_value=50, initial=3)
    images_per_task = forms.IntegerField(min_value=1, max_value=50, initial=10)
    ask_best = forms.BooleanField(required=False, initial=True, label="Ask which description is best")
    attention_check_every = forms.IntegerField(
        min_value=0, max_value=1000, initial=0, required=False, label="One attention check in N tasks",
        help_text="0 or empty: none. Checks are built from the study's own descriptions (docs/rating-page.md).",
    )
    consistency_prompt = forms.BooleanField(
        required=False, initial=False, label="Point out a best pick rated below another description",
        help_text="Off reproduces the reference protocol (such an answer is stored as invalid without a word).",
    )
    name = forms.SlugField(max_length=100, help_text="Short id used in links, e.g. resnet50-pilot.")
    title = forms.CharField(max_length=200, required=False, help_text="What raters see as the study's name.")
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    exclusion_policy = forms.CharField(
        required=False, max_length=2000, label="Exclusion policy",
        help_text="Optional: raters the analysis leaves out, e.g. 'check_pass_rate < 0.8 or median_seconds < 5 s' "
                  "(rules on quality signals joined by 'or'; changeable later on the study page).",
    )

    def __init__(self, *args, network: Network | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.chosen_network = network
        if network is not None:
            self.fields["layers"].choices = [(layer.name, layer.name) for layer in network.layers.order_by("order", "name")]
            with_explanations = Explanation.objects.filter(neuron__layer__network=network).values("method")
            self.fields["methods"].queryset = Method.objects.filter(pk__in=with_explanations).order_by("name")
            for method in self.fields["methods"].queryset:
                self.fields[f"rank_{method.name}"] = forms.IntegerField(
                    min_value=1, max_value=100, initial=1, required=False, label=f"Rank of {method.name}'s label",
                )

    def rank_fields(self):
        return [self[name] for name in self.fields if name.startswith("rank_")]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name in RESERVED_NAMES:
            raise forms.ValidationError(f"'{name}' is taken by a page of the site; choose another name")
        if Study.objects.filter(name=name).exists():
            raise forms.ValidationError(f"a study named '{name}' already exists")
        return name

    def clean_exclusion_policy(self):
        try:
            return checked_policy_text(self.cleaned_data["exclusion_policy"])
        except StudyError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self):
        cleaned = super().clean()
        methods = cleaned.get("methods") or []
        labelling = cleaned.get("kind") == Study.Kind.LABELLING
        fewest = 1 if labelling else MIN_METHODS
        if methods and not fewest <= len(methods) <= MAX_METHODS:
            self.add_error("methods", f"choose {fewest} to {MAX_METHODS} methods (got {len(methods)})")
        if not labelling:
            for field in ("top_images_per_task", "random_images_per_task"):
                if cleaned.get(field):
                    self.add_error(field, "top and random images are for labelling studies; choose that kind or leave it empty")
        if cleaned.get("selection") == "list":
            cleaned["units"] = self._parse_units(cleaned.get("unit_list", ""))
        else:
            cleaned["units"] = None
        return cleaned

    def _parse_units(self, text: str) -> dict[str, list[int]] | None:
        units: dict[str, list[int]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            match = _UNIT_LINE.match(line)
            if not match:
                self.add_error("unit_list", f"line {number}: write 'layer: unit, unit, ...'")
                return None
            layer, listed = match.groups()
            try:
                units.setdefault(layer, []).extend(int(part) for part in re.split(r"[,\s]+", listed) if part)
            except ValueError:
                self.add_error("unit_list", f"line {number}: units are whole numbers")
                return None
        if not units:
            self.add_error("unit_list", "list at least one layer's units, or choose random neurons")
            return None
        return units

    def ranks(self) -> dict[str, int]:
        return {method.name: self.cleaned_data.get(f"rank_{method.name}") or 1 for method in self.cleaned_data["methods"]}

    def study_arguments(self) -> dict:
        data = self.cleaned_data
        units = data["units"]
        layers = list(data["layers"]) or None
        if units and layers is None:
            layers = list(units)
        return {
            "name": data["name"], "network": data["network"], "methods": [m.name for m in data["methods"]],
            "layers": layers, "per_layer": data["per_layer"], "seed": data["seed"], "units": units,
            "raters_per_neuron": data["raters_per_neuron"], "images_per_task": data["images_per_task"],
            "ask_best": data["ask_best"], "title": data["title"], "instructions": data["instructions"],
            "exclusion_policy": data["exclusion_policy"],
            "attention_check_every": data.get("attention_check_every") or 0,
            "consistency_prompt": data.get("consistency_prompt", False),
            "explanation_rank": self.ranks(), "status": Study.Status.DRAFT, "kind": data["kind"] or Study.Kind.RATING,
            "top_images_per_task": data.get("top_images_per_task"),
            "random_images_per_task": data.get("random_images_per_task"),
        }
