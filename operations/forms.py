from django import forms

from . import prices


class CapacityPlanForm(forms.Form):
    """The planner's inputs; engines and models offered are those with stored benchmarks."""

    tasks_per_month = forms.IntegerField(min_value=0, initial=100_000)
    avg_media_minutes = forms.FloatField(min_value=0.01, max_value=1440, initial=5)
    engine = forms.ChoiceField()
    model = forms.ChoiceField()
    gpu_type = forms.ChoiceField()
    target_utilisation = forms.FloatField(min_value=0.05, max_value=1, initial=0.6)
    peak_factor = forms.FloatField(min_value=1, max_value=50, initial=3)
    input_tokens_per_task = forms.IntegerField(min_value=0, initial=3000)
    output_tokens_per_task = forms.IntegerField(min_value=0, initial=600)

    def __init__(self, *args, results=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["engine"].choices = [(e, e) for e in sorted({r.engine for r in results})]
        self.fields["model"].choices = [(m, m) for m in sorted({r.model for r in results})]
        self.fields["gpu_type"].choices = [
            (key, gpu["name"]) for key, gpu in prices.gpu_types().items()]
