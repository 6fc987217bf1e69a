"""validate: every check of user input, at its edges."""

import pytest

from ponton.core import validate
from ponton.core.errors import InvalidInput


@pytest.mark.parametrize("name", ["a", "app", "my-app-2", "a" * 30, "a-", "a--b", "x0"])
def test_app_name_accepted(name):
    assert validate.app_name(name) == name


@pytest.mark.parametrize("name", [
    "", "a" * 31, "App", "APP", "1app", "-app", "my_app", "my.app", "../x", "a/b", "a b", " app", "app ",
    "app\n", "a\nb", "\tapp", "café", "ａpp", "app\0", "ı",
])
def test_app_name_rejected(name):
    with pytest.raises(InvalidInput, match=r"^invalid app name .*: use 1-30 lowercase letters"):
        validate.app_name(name)


def test_app_name_error_is_one_line_even_for_newlines():
    with pytest.raises(InvalidInput) as e:
        validate.app_name("a\nb")
    assert str(e.value).splitlines() == [str(e.value)]
    assert "'a\\nb'" in str(e.value)


@pytest.mark.parametrize("key", ["A", "a", "_", "_X1", "DATABASE_URL", "x" * 200])
def test_config_key_accepted(key):
    assert validate.config_key(key) == key


@pytest.mark.parametrize("key", ["", "1A", "A-B", "A B", "A.B", "A=B", "É", "A\n", "$A", "ＡＢ"])
def test_config_key_rejected(key):
    with pytest.raises(InvalidInput, match="^invalid config key"):
        validate.config_key(key)


def test_port_is_reserved():
    with pytest.raises(InvalidInput, match="^config key PORT is set by ponton"):
        validate.config_key("PORT")


@pytest.mark.parametrize("value", ["", " spaced  out ", "'\"`$HOME\\", "line1\nline2\n", "ünï©ødé ✓", "=a=b="])
def test_config_value_kept_byte_for_byte(value):
    assert validate.config_value("K", value) == value


@pytest.mark.parametrize("value", ["\0", "a\0b", "end\0"])
def test_config_value_with_nul_rejected(value):
    with pytest.raises(InvalidInput, match="^config value of K contains a NUL byte"):
        validate.config_value("K", value)


def test_config_value_not_utf8_rejected():
    # what Python makes of argv bytes that are not UTF-8 (surrogateescape): SQLite cannot store it
    with pytest.raises(InvalidInput, match="^config value of K is not valid UTF-8"):
        validate.config_value("K", b"\xff".decode("utf-8", "surrogateescape"))


def test_encoded_config_pairs_are_base64_text():
    assert validate.config_pairs(("A=aGVsbG8KIHdvcmxk", "B="), encoded=True) == {"A": "hello\n world", "B": ""}
    for bad in ("A=not base64", "A=/w==", "A=AA=A"):  # not base64; base64 of bytes that are not UTF-8; padding
        with pytest.raises(InvalidInput, match="not base64 of UTF-8 text"):
            validate.config_pairs((bad,), encoded=True)


def test_config_pairs_split_on_first_equals():
    assert validate.config_pairs(("A=1", "B=x=y", "C=", "D= sp ")) == {"A": "1", "B": "x=y", "C": "", "D": " sp "}


@pytest.mark.parametrize("pair, message", [
    ("A", "expected KEY=VALUE, got 'A'"),
    ("=x", "invalid config key ''"),
    ("1A=x", "invalid config key '1A'"),
    ("PORT=1", "config key PORT is set by ponton"),
    ("A=\0", "config value of A contains a NUL byte"),
])
def test_config_pairs_rejected(pair, message):
    with pytest.raises(InvalidInput) as e:
        validate.config_pairs(("OK=1", pair))
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("pairs, expected", [
    (("web=0",), {"web": 0}),
    (("web=50",), {"web": 50}),
    (("web=1", "worker=3"), {"web": 1, "worker": 3}),
    (("web=007",), {"web": 7}),
    (("my_worker-2=1",), {"my_worker-2": 1}),
    (("web=1", "web=2"), {"web": 2}),
])
def test_scale_pairs_accepted(pairs, expected):
    assert validate.scale_pairs(pairs) == expected


@pytest.mark.parametrize("pair", ["web=51", "web=-1", "web=1.5", "web=", "web= 1", "web=1e1", "web=３", "web=٣",
                                  "web=0x1", "web=99999999999999999999"])
def test_scale_count_rejected(pair):
    with pytest.raises(InvalidInput, match=r"^invalid count in .*: use a whole number from 0 to 50$"):
        validate.scale_pairs((pair,))


@pytest.mark.parametrize("pair", ["web", "=3", "WEB=1", "1web=1", "w eb=1", "wéb=1", "web:1", "a" * 31 + "=1"])
def test_scale_type_rejected(pair):
    with pytest.raises(InvalidInput, match="^expected TYPE=N with a process type"):
        validate.scale_pairs((pair,))


def test_scale_needs_a_pair():
    with pytest.raises(InvalidInput, match="^expected at least one TYPE=N"):
        validate.scale_pairs(())


@pytest.mark.parametrize("name, expected", [
    ("example.com", "example.com"),
    ("Example.COM", "example.com"),
    ("a.b.c.example.com", "a.b.c.example.com"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("my-app.1.a2", "my-app.1.a2"),
    ("127.0.0.1.nip.io", "127.0.0.1.nip.io"),
    ("0x.example", "0x.example"),
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (".".join(["a" * 49] * 5) + ".abc", ".".join(["a" * 49] * 5) + ".abc"),  # 253 characters
])
def test_domain_accepted(name, expected):
    assert validate.domain(name) == expected


@pytest.mark.parametrize("name", [
    "", "localhost", "a.com;", "a.com {", "a.com\n", "a.com\r\n", "*.a.com", "$host", "a.$host", "a.com a.org",
    "a.com;include /etc/passwd", "a.com}", "a..com", ".a.com", "a.com.", "-a.com", "a-.com", "a_b.com", "ä.com",
    "a.com/x", "a.com:80", "a" * 64 + ".com", ".".join(["a" * 49] * 5) + ".abcd", "a.com\0", "a.com\t",
])
def test_domain_rejected(name):
    with pytest.raises(InvalidInput, match="^invalid domain .*: use dot-separated labels"):
        validate.domain(name)


@pytest.mark.parametrize("name", [
    "127.0.0.1", "0.0.0.0", "10.1.2.3", "255.255.255.255", "127.1", "0x7f.0.0.1", "0x7f.1", "2130706433",
    "my-app.1.2", "a.0x10", "::1", "[::1]", "::", "fe80::1", "::ffff:127.0.0.1", "[2001:db8::1]",
])
def test_ip_addresses_are_not_domains(name):
    """A tenant must not capture the requests sent to the server by its address (or what a browser reads as one:
    a host ending in a number)."""
    with pytest.raises(InvalidInput, match="^invalid domain .*: an IP address is not a domain"):
        validate.domain(name)


@pytest.mark.parametrize("name", [
    "apps.example.com", "APPS.example.com", "other.apps.example.com", "www.other.apps.example.com",
])
def test_the_global_domain_and_names_under_it_are_reserved(name):
    with pytest.raises(InvalidInput, match=r"^.* is reserved: apps\.example\.com and the names under it"):
        validate.custom_domain(name, "apps.example.com")


@pytest.mark.parametrize("name", ["example.com", "www.example.com", "xapps.example.com", "apps.example.com.au"])
def test_names_beside_the_global_domain_are_custom_domains(name):
    assert validate.custom_domain(name, "apps.example.com") == name


HUGE = "9" * 5000  # past Python's 4300-digit limit of int(): a ValueError, not a number


@pytest.mark.parametrize("text, whole, expected", [
    ("0", True, 0), ("50", True, 50), ("007", True, 7), ("0" * 5000 + "7", True, 7), ("2.5", False, 2.5),
    ("3", False, 3.0), ("0" * 5000 + "1.25", False, 1.25),
])
def test_bounded_accepts_plain_numbers(text, whole, expected):
    value = validate.bounded(text, 0, 50, whole)
    assert value == expected and type(value) is (int if whole else float)


@pytest.mark.parametrize("text", [
    HUGE, HUGE + ".5", "51", "50.5", "-1", "+1", "", " 5", "5 ", "5\n", "٣", "３", "1_0", "1e1", "inf", "nan",
    "0x10", "1.", ".5", "1.5.1", "5\u2028",
])
def test_bounded_refuses_everything_else(text):
    assert validate.bounded(text, 0, 50, whole=False) is None
    assert validate.bounded(text, 0, 50) is None


def test_bounded_refuses_fractions_of_whole_numbers():
    assert validate.bounded("1.5", 0, 50) is None and validate.bounded("1.0", 0, 50) is None


def test_number_error_is_one_short_line():
    with pytest.raises(InvalidInput) as e:
        validate.number(HUGE + "\n", 1, 10, "count")
    message = str(e.value)
    assert message.startswith("invalid count '99999") and message.endswith("use a whole number from 1 to 10")
    assert len(message) < 120 and "\n" not in message


@pytest.mark.parametrize("pair", [f"web={HUGE}", f"web=0{HUGE}", f"{'w' * 5000}=1"])
def test_scale_pairs_with_huge_input(pair):
    with pytest.raises(InvalidInput) as e:
        validate.scale_pairs((pair,))
    assert len(str(e.value)) < 200
