from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "basin.accounts"
    label = "accounts"
