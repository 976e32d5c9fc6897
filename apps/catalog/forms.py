"""Web forms check the shape of input only; the services decide everything else."""

from django import forms

from apps.catalog.models import MAX_LEVEL, DataSourceKind, HarvestSchedule, TLSMode

EXTERNAL_KIND_CHOICES = [(kind.value, kind.label) for kind in DataSourceKind if kind != DataSourceKind.WAREHOUSE]


class DataSourceForm(forms.Form):
    project = forms.ChoiceField()
    kind = forms.ChoiceField(choices=EXTERNAL_KIND_CHOICES)
    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits, '_' or '-'.")
    host = forms.CharField(max_length=255)
    port = forms.IntegerField(required=False, min_value=1, max_value=65535,
                              help_text="Empty: 5432 for PostgreSQL, 3306 for MySQL.")
    database = forms.CharField(max_length=128)
    username = forms.CharField(max_length=128)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="Stored encrypted; never shown again.")
    tls_mode = forms.ChoiceField(choices=TLSMode.choices, initial=TLSMode.PREFER, label="TLS")
    harvest_schedule = forms.ChoiceField(choices=HarvestSchedule.choices, initial=HarvestSchedule.MANUAL)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, project_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(name, name) for name in project_choices]
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)


class ColumnClassifyForm(forms.Form):
    classification = forms.ChoiceField(required=False)
    sensitivity_level = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        choices=[("", "(the type's default)")] + [(str(level), str(level)) for level in range(MAX_LEVEL + 1)],
    )

    def __init__(self, *args, type_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["classification"].choices = [("", "(none)")] + list(type_choices)


def _styled(form: forms.Form) -> None:
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs.setdefault("class", css)


class CategoryForm(forms.Form):
    name = forms.CharField(max_length=100)
    parent = forms.ModelChoiceField(queryset=None, required=False, empty_label="(top level)")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, parent_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = parent_choices
        self.fields["parent"].label_from_instance = lambda category: category.path
        _styled(self)


class GlossaryTermForm(forms.Form):
    name = forms.CharField(max_length=200)
    category = forms.ModelChoiceField(queryset=None, required=False, empty_label="(none)")
    synonyms = forms.CharField(required=False, help_text="Comma-separated.")
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, category_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = category_choices
        self.fields["category"].label_from_instance = lambda category: category.path
        _styled(self)

    def clean_synonyms(self) -> list[str]:
        return [word.strip() for word in self.cleaned_data["synonyms"].split(",") if word.strip()]


class SensitiveTypeForm(forms.Form):
    code = forms.CharField(max_length=63, help_text="Lowercase letters, digits or '_'; cannot change later.")
    name = forms.CharField(max_length=100)
    category = forms.CharField(max_length=63, help_text="E.g. Personal, Financial.")
    default_level = forms.IntegerField(min_value=0, max_value=MAX_LEVEL)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            # The code names the type in classifications and audit events: it stays.
            del self.fields["code"]
        _styled(self)
