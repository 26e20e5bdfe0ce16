from patron.lib.keys import MAX_LENGTH, derived_key


def test_a_derived_key_keeps_the_key_while_it_fits():
    assert derived_key("order-1", prefix="claim:") == "claim:order-1"
    assert derived_key("order-1", suffix=":in") == "order-1:in"
    assert derived_key("k" * 249, prefix="claim:") == "claim:" + "k" * 249


def test_a_key_too_long_to_derive_gives_a_digest_the_same_each_time():
    long_key = "k" * MAX_LENGTH
    derived = derived_key(long_key, prefix="claim:")
    assert derived.startswith("claim:#") and len(derived) <= MAX_LENGTH
    assert derived_key(long_key, prefix="claim:") == derived
    assert derived_key("j" + long_key[1:], prefix="claim:") != derived
    assert derived_key(long_key, suffix=":in").endswith(":in")
