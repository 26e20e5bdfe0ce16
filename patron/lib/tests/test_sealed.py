import pytest
from django.test import override_settings

from patron.lib.sealed import SealingError, is_sealed, seal, unseal


def test_a_sealed_value_opens_to_the_original_and_hides_it():
    sealed = seal("sk_live_secret")
    assert is_sealed(sealed)
    assert "sk_live_secret" not in sealed
    assert unseal(sealed) == "sk_live_secret"


def test_sealing_twice_changes_nothing_and_plain_values_read_as_they_are():
    sealed = seal("token")
    assert seal(sealed) == sealed
    assert unseal("legacy plain value") == "legacy plain value"
    assert seal("") == ""


def test_an_old_key_still_opens_values_after_rotation():
    with override_settings(SEALING_KEYS=["old key"]):
        sealed = seal("token")
    with override_settings(SEALING_KEYS=["new key", "old key"]):
        assert unseal(sealed) == "token"
        assert unseal(seal("fresh")) == "fresh"
    with override_settings(SEALING_KEYS=["new key"]), pytest.raises(SealingError):
        unseal(sealed)
