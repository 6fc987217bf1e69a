"""schemathesis against the API's own OpenAPI document, on a real ponton web: whatever it sends (bodies, paths,
query strings generated from the schema, and their edges), the answer is never a 5xx."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.integration.web import add_user, token

# Logs with follow=true answer until the client hangs up, by design (test_web_api.py tests them).
ENDLESS = ("/api/v1/apps/{app}/logs",)


def test_no_request_gets_a_server_error(sandbox):
    add_user(sandbox, "alice")
    sandbox.start_web()
    headers = {"Authorization": f"Bearer {token(sandbox, 'fuzz', 'alice')}"}
    sandbox.run("apps:create", "fuzzed")  # an app that exists, and is not alice's: paths that are 403
    base = f"http://127.0.0.1:{sandbox.web_port}"
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    tried = []
    for operation in operations:
        if operation.path in ENDLESS:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            case.call_and_validate(base_url=base, checks=[not_a_server_error], headers=headers, timeout=120)

        call()
        tried.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/apps/{app}/config" in tried
    assert not (sandbox.root / "state" / "errors.log").exists()
