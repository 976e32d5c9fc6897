"""Web forms check the shape of input only; the services decide everything else."""

from django import forms

from apps.tenancy.models import Environment, RoleType, TenantRoleName


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '_', starting with a letter.")
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.PROD)
    prod_project = forms.ChoiceField(required=False, label="Pair with prod project",
                                     help_text="For a dev project: the prod project it develops for.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, prod_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prod_project"].choices = [("", "(none)")] + [(name, name) for name in prod_choices]


class ProjectUpdateForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=63)


class RoleCreateForm(forms.Form):
    name = forms.CharField(max_length=63)
    role_type = forms.ChoiceField(choices=RoleType.choices, initial=RoleType.RESOURCE)
    description = forms.CharField(required=False, max_length=300)


class RoleAssignForm(forms.Form):
    role = forms.CharField(max_length=63)
    username = forms.CharField(max_length=63)


class SubaccountCreateForm(forms.Form):
    username = forms.CharField(max_length=63)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, strip=False)


class ActiveForm(forms.Form):
    is_active = forms.TypedChoiceField(choices=[("true", "enable"), ("false", "disable")],
                                       coerce=lambda value: value == "true")


class TenantRoleAssignForm(forms.Form):
    username = forms.CharField(max_length=63)
    role = forms.ChoiceField(choices=TenantRoleName.choices)
