from django.apps import AppConfig


class StubsConfig(AppConfig):
    name = "openedx_test_project.stubs"
    label = "stubs"
