"""The OpenAPI document says what the service does: error bodies, the statuses of each operation, the API key as
a security scheme, and the input each operation takes (filter syntax, search weights, version numbers), with the
service refusing what the document refuses (422 naming the parameter) instead of a silent empty answer or a 500."""

from __future__ import annotations

import itertools
import re

import pytest

from fathom.retrieval.filters import parse_filters

ERROR = {"$ref": "#/components/schemas/ErrorOut"}
INVALID = {"$ref": "#/components/schemas/ValidationErrorOut"}


def _responses(spec, operation):
    method, path = operation.split()
    return spec["paths"][path][method.lower()]["responses"]


def _schema(responses, status):
    return responses[str(status)]["content"]["application/json"]["schema"]


def _is_422(response, field):
    body = response.json()
    assert response.status_code == 422, response.text
    assert isinstance(body["detail"], str) and field in body["detail"]
    assert any(e["field"] == field for e in body["errors"]), body
    return body


# ------------------------------------------------------------------------------- 1. errors, statuses, API key
def test_error_bodies_are_documented_as_the_service_writes_them(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["ErrorOut"]["properties"]["detail"]["type"] == "string"
    invalid = schemas["ValidationErrorOut"]
    assert invalid["properties"]["detail"]["type"] == "string" and set(invalid["required"]) == {"detail", "errors"}
    assert set(schemas["FieldError"]["required"]) == {"field", "message"}
    assert "HTTPValidationError" not in schemas  # FastAPI's shape (detail: a list) is not what the service says
    for item in spec["paths"].values():
        for op in item.values():
            for status in op["responses"]:
                if status.startswith(("4", "5")):
                    assert _schema(op["responses"], status) == (INVALID if status == "422" else ERROR)
    # a 422 from a type check and one a route raises by hand have the same shape
    _is_422(client.get("/search?k=0"), "query.k")
    body = _is_422(client.get("/search?k=100000"), "k")
    assert body["errors"] == [{"field": "k", "message": "at most 1000 results per request (got 100000)"}]
    assert client.get("/items/nope").json() == {"detail": "unknown item 'nope'"}


EXPECTED_STATUSES = {  # at least these, for a service with an API key
    "POST /recommend": {200, 400, 401, 403, 404, 413, 422, 503},
    "GET /recommend/{user_id}": {200, 401, 403, 404, 422, 503},
    "GET /similar/{item_id}": {200, 400, 404, 422, 503},
    "GET /search": {200, 400, 422},
    "POST /search": {200, 400, 413, 422},
    "POST /events": {201, 400, 401, 403, 404, 413, 422},
    "POST /events/batch": {201, 400, 401, 403, 404, 413, 422},
    "GET /items/{item_id}": {200, 404},
    "PUT /items/{item_id}": {200, 400, 401, 403, 413, 422},
    "DELETE /items/{item_id}": {204, 401, 403, 404},
    "DELETE /users/{user_id}": {200, 401, 403, 404},
    "POST /models/{version}/activate": {200, 401, 403, 404, 422},
    "POST /models/rollback": {200, 401, 403, 409},
    "POST /models/train": {200, 401, 403, 409, 413, 422, 503},
    "GET /health": {200},
}


def test_each_operation_documents_the_statuses_it_answers(make_client):
    spec = make_client(api_key="secret").get("/openapi.json").json()
    for operation, statuses in EXPECTED_STATUSES.items():
        documented = {int(s) for s in _responses(spec, operation)}
        assert statuses <= documented, (operation, statuses - documented)
    assert {int(s) for s in _responses(spec, "GET /health")} == {200}
    open_spec = make_client().get("/openapi.json").json()  # no key: no 401
    assert "401" not in _responses(open_spec, "PUT /items/{item_id}")


def test_the_documented_statuses_are_the_ones_answered(make_client):
    client = make_client(api_key="secret")
    spec = client.get("/openapi.json").json()
    key = {"X-API-Key": "secret"}
    answers = {
        "POST /recommend": [client.post("/recommend", json={"user_id": "u0"}),  # 401
                            client.post("/recommend", json={"recent_items": ["nope"]}),  # 404
                            client.post("/recommend", content=b"\xff", headers={"content-type": "application/json"})],
        "GET /similar/{item_id}": [client.get("/similar/s0?filter=colour=red"), client.get("/similar/nope")],
        "POST /events": [client.post("/events", json={"user_id": "u0", "item_id": "s0"}, headers={"X-API-Key": "x"}),
                         client.post("/events", json={"user_id": "u0", "item_id": "nope"}, headers=key),
                         client.post("/events", content=b"x" * 2_000_000, headers=key)],
        "POST /models/rollback": [client.post("/models/rollback", headers=key)],  # 409: nothing to roll back to
        "POST /models/{version}/activate": [client.post("/models/7/activate", headers=key)],
    }
    for operation, responses in answers.items():
        documented = _responses(spec, operation)
        for r in responses:
            assert r.status_code >= 400 and str(r.status_code) in documented, (operation, r.status_code, r.text)
            assert set(r.json()) == ({"detail", "errors"} if r.status_code == 422 else {"detail"})


def test_the_api_key_is_a_security_scheme_not_a_header_parameter(make_client):
    spec = make_client(api_key="secret").get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["APIKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert all(p["name"].lower() != "x-api-key" for p in op.get("parameters", [])), (method, path)
    ops = {f"{m.upper()} {p}": op for p, item in spec["paths"].items() for m, op in item.items()}
    for write in ["POST /events", "PUT /items/{item_id}", "DELETE /users/{user_id}", "POST /models/train",
                  "GET /users/{user_id}"]:
        assert ops[write]["security"] == [{"APIKey": []}], write
    assert ops["POST /recommend"]["security"] == [{"APIKey": []}, {}]  # anonymous recommendations need no key
    assert "security" not in ops["GET /search"] and "security" not in ops["GET /health"]
    open_spec = make_client().get("/openapi.json").json()  # no key set: nothing to send
    assert "securitySchemes" not in open_spec["components"]
    assert all("security" not in op for item in open_spec["paths"].values() for op in item.values())


def test_limits_that_are_settings_are_in_the_document(make_client):
    spec = make_client(max_k=50, max_batch=7).get("/openapi.json").json()
    k = next(p for p in spec["paths"]["/search"]["get"]["parameters"] if p["name"] == "k")
    assert k["schema"]["maximum"] == 50
    schemas = spec["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["k"]["maximum"] == 50
    assert schemas["RecommendRequest"]["properties"]["k"]["maximum"] == 50
    assert schemas["EventBatch"]["properties"]["events"]["maxItems"] == 7
    # a dict with constrained keys refuses other keys, and says so
    assert schemas["ItemIn"]["properties"]["numeric"]["additionalProperties"] is False


def test_a_405_lists_every_method_of_the_path(client):
    r = client.request("PATCH", "/items/s0")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, PUT"
    assert client.request("OPTIONS", "/search").headers["allow"] == "GET, POST"


# ---------------------------------------------------------------------------------------- 2. filter syntax
def _pattern(spec, name):
    param = next(p for p in spec["paths"]["/search"]["get"]["parameters"] if p["name"] == name)
    # ECMA-262 reading: "$" is the end of the text (Python's "$" also matches before a final newline)
    return re.compile(re.sub(r"\$$", r"\\Z", param["schema"]["items"]["pattern"]))


def _parses(kind, text):
    try:
        parse_filters([text], []) if kind == "filter" else parse_filters([], [text])
    except ValueError as exc:
        return "greater than" in str(exc)  # well formed, but LO > HI: the document says so in words
    return True


@pytest.mark.parametrize(("kind", "alphabet"), [("filter", "ab=, "), ("range", "a=:1.e- ")])
def test_the_documented_pattern_is_exactly_what_the_parser_takes(client, kind, alphabet):
    pattern = _pattern(client.get("/openapi.json").json(), kind)
    texts = ["".join(t) for n in range(7) for t in itertools.product(alphabet, repeat=n)]
    texts += ["genre=Sci-Fi", "genre = Sci-Fi , Cooking", "a=b=c", "a=b\n", "year=1990:", "year=:2005",
              "p=-1.5e3:+.5", "y=nan:", "y=inf:", "y=1e999:", "y=1_0:", "y=\u0661:", "y=5:1", "a:b=1:2", " =1:2"]
    disagree = [t for t in texts if bool(pattern.search(t)) != _parses(kind, t)]
    assert not disagree, disagree[:10]


@pytest.mark.parametrize(("query", "param"), [
    ("range=year=nan:", "query.range"), ("range=year=:inf", "query.range"), ("range=year=2005:2001", "query.range"),
    ("range==1:2", "query.range"), ("range=year=1e999:", "query.range"), ("filter==Sci-Fi", "query.filter"),
    ("filter=genre=", "query.filter"), ("filter=genre=a,,b", "query.filter")])
def test_malformed_filters_are_422_naming_the_parameter(client, query, param):
    for path in ("/search", "/similar/s0", "/recommend/u0"):
        _is_422(client.get(f"{path}?{query}"), param)


def test_well_formed_filters_filter(client):
    r = client.get("/search?range=year=%202003%20:%202005%20&filter=%20genre%20=%20Sci-Fi%20,%20Western")
    assert r.status_code == 200, r.text
    assert sorted(h["item_id"] for h in r.json()["hits"]) == ["s3", "s4", "s5"]


@pytest.mark.parametrize("ranges", ['{"year": [NaN, null]}', '{"year": [true, 2005]}', '{"": [1, 2]}'])
def test_body_filters_refuse_non_numbers_and_blank_names(client, ranges):
    body = '{"query": "space", "filter": {"ranges": ' + ranges + "}}"
    r = client.post("/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "body.filter.ranges" in r.json()["detail"], r.text


# ---------------------------------------------------------------------------------------- 3. search weights
@pytest.mark.parametrize(("weights", "field"), [
    ('{"bm42": 1}', "body.weights.bm42"), ('{"dense": 1}', "body.weights.dense"),
    ('{"bm25": -1}', "body.weights.bm25"), ('{"bm25": NaN}', "body.weights.bm25"),
    ('{"bm25": Infinity}', "body.weights.bm25"), ('{"bm25": 0}', "body.weights"), ("{}", "body.weights")])
def test_search_weights_name_known_signals_with_finite_weights(client, weights, field):
    body = '{"query": "space", "weights": ' + weights + "}"
    r = client.post("/search", content=body, headers={"content-type": "application/json"})
    assert "known: bm25" in _is_422(r, field)["detail"] or "finite" in r.json()["detail"]
    assert len(client.post("/search", json={"query": "space", "weights": {"bm25": 2.0}}).json()["hits"]) == 10


def test_the_document_names_the_signals_weights_may_give(make_client):
    weights = make_client().get("/openapi.json").json()["components"]["schemas"]["SearchRequest"]["properties"][
        "weights"]
    assert weights["anyOf"][0]["propertyNames"] == {"enum": ["bm25"]}
    assert weights["anyOf"][0]["additionalProperties"] == {"type": "number", "minimum": 0}


# ---------------------------------------------------------------------------------------- 4. version numbers
def test_version_numbers_beyond_64_bits_are_422_not_500(client):
    _is_422(client.post("/models/9223372036854775808/activate"), "path.version")
    _is_422(client.post("/models/0/activate"), "path.version")
    assert client.post("/models/9223372036854775807/activate").status_code == 404
    spec = client.get("/openapi.json").json()
    version = spec["paths"]["/models/{version}/activate"]["post"]["parameters"][0]["schema"]
    assert (version["minimum"], version["exclusiveMaximum"]) == (1, 2**63)


# ---------------------------------------------------------------------------------------- 5. page names
@pytest.mark.parametrize("name", ["x" * 256 + ".html", "a" * 5000 + ".js", "..%2Fsettings.py", "%2e%2e", "app.js%00"])
def test_unknown_page_names_are_404(client, name):
    r = client.get(f"/ui/{name}")
    assert r.status_code == 404 and r.json()["detail"].startswith(("unknown page", "Not Found"))
    assert client.get("/ui/app.js").status_code == 200
