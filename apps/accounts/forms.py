from django import forms

from apps.accounts.models import AccessKey


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True,
                                                                           "autocomplete": "username"}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class SignupForm(forms.Form):
    tenant_name = forms.CharField(
        max_length=63, label="Tenant name",
        help_text="Lowercase letters, digits and '_', starting with a letter, e.g. acme.",
    )
    username = forms.CharField(max_length=63, help_text="Your primary account's name, e.g. alice.",
                               widget=forms.TextInput(attrs={"autocomplete": "username"}))
    email = forms.EmailField(required=False)
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text="At least 10 characters, not a common password.")
    password_again = forms.CharField(strip=False, label="Password again",
                                     widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return cleaned


class AccessKeyCreateForm(forms.Form):
    description = forms.CharField(
        max_length=AccessKey._meta.get_field("description").max_length, required=False,
        help_text="What the key is for, e.g. 'nightly export'.",
    )


def add_service_errors(form: forms.Form, error) -> None:
    """Show a service's ValidationError on the form: field errors where the form has the
    field, the rest above the form."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
