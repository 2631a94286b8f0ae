"""The Docker provider end to end: real containers from the images .ci/docker builds offline.

Run by .ci/docker, which sets PYTEST_MIGRATIONS_DOCKER_IMAGES; deselected elsewhere (see conftest).
Each run is a subprocess: testcontainers reads TESTCONTAINERS_RYUK_DISABLED once per process.
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import DOCKER_IMAGES, QUIET, before_short_summary, revision

pytestmark = pytest.mark.docker

ONE = {
    "0001_t": revision(
        "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'
    )
}


def containers(image: str) -> list[str]:
    """Containers of `image`, running or stopped."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"ancestor={image}", "--format", "{{.ID}} {{.Status}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


@pytest.fixture
def images(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The offline images; a Docker engine that does not answer fails the test, it never skips it."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        pytest.fail(f"PYTEST_MIGRATIONS_DOCKER_IMAGES is set but no Docker engine answers: {exc}", pytrace=False)
    for image in DOCKER_IMAGES.values():
        client.images.get(image)  # raises ImageNotFound: build them with .ci/docker
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    before = {image: containers(image) for image in DOCKER_IMAGES.values()}
    yield DOCKER_IMAGES
    after = {image: containers(image) for image in DOCKER_IMAGES.values()}
    assert after == before, "containers left behind"


def image_options(images: dict[str, str]) -> list[str]:
    return [f"-o=migrations_{engine}_image={image}" for engine, image in images.items()]


def test_a_docker_run_passes_on_both_engines_and_says_what_ran(project, pytester, images):
    project(ONE)
    result = pytester.runpytest_subprocess(
        "--migrations", "--migrations-engines=postgresql,mysql", *image_options(images), *QUIET
    )
    result.assert_outcomes(passed=11, skipped=2)  # ONE has no model: the model check skips; one test_single_head
    pg, my = images["postgresql"], images["mysql"]
    result.stdout.fnmatch_lines(
        [
            f"migrations: postgresql from Docker image {pg} (migrations_postgresql_image)",
            f"migrations: mysql from Docker image {my} (migrations_mysql_image)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*pytest-migrations summary*",
            "mysql: 1 revision walked*",
            f"  server  mysql 10.*-MariaDB* from Docker image {my}",
            "postgresql: 1 revision walked*",
            f"  server  postgresql 1* from Docker image {pg}",
        ]
    )
    assert "test:test@" not in result.stdout.str() and "postgres:postgres@" not in result.stdout.str()


def test_a_failing_history_in_containers_fails_its_checks_and_leaves_no_container(project, pytester, images):
    broken = {
        "0001_t": revision(
            "0001", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("x")'
        )
    }
    project(broken)
    result = pytester.runpytest_subprocess(
        "--migrations",
        "--migrations-engines=postgresql,mysql",
        "--migrations-provider=docker",
        *image_options(images),
        *QUIET,
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2 and "error" not in outcomes  # the downgrade fails on both; no crash
    # The stepwise cycle meets the failing downgrade first and tells it; test_downgrade points there, skipped.
    result.stdout.fnmatch_lines(
        ["*test_stepwise_roundtrip[[]postgresql[]] failed*", "*test_stepwise_roundtrip[[]mysql[]] failed*"]
    )
    # The fixture checks that both containers are gone.


def test_an_image_that_cannot_be_pulled_is_one_message_for_the_session(project, pytester, images):
    project(ONE)
    missing = "pytest-migrations/no-such-image:1"
    result = pytester.runpytest_subprocess(
        "--migrations", "--migrations-engines=postgresql", f"-o=migrations_postgresql_image={missing}", *QUIET
    )
    result.assert_outcomes(
        passed=1, failed=1, skipped=5
    )  # test_single_head reads files only; the rest point at the first
    out = result.stdout.str()
    message = (
        f"test_upgrade[[]postgresql[]] could not run: cannot start a postgresql container: Docker image {missing} is not "
        "on this Docker engine and pulling it failed. Pull or build it beforehand, or set the ini key "
        "migrations_postgresql_image to an image the engine has or can pull (log in first for a private registry). "
        "Docker said: APIError: *"
    )
    result.stdout.fnmatch_lines([message])
    body = before_short_summary(result)
    assert body.count("pulling it failed") == 1  # once, the other items point at it
    # The other items are skipped, pointing at the one that tells why (one cause, one failure).
    assert "Traceback" not in out and "docker.errors" not in out and "http+docker" not in out


def test_ryuk_that_cannot_be_pulled_names_the_variable_that_turns_it_off(project, pytester, images, monkeypatch):
    monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED")
    project(ONE)
    result = pytester.runpytest_subprocess(
        "--migrations",
        "--migrations-engines=postgresql",
        f"-o=migrations_postgresql_image={images['postgresql']}",
        *QUIET,
    )
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "test_upgrade[[]postgresql[]] could not run: testcontainers could not start its Ryuk container "
            f"(image testcontainers/ryuk:*), which it starts before the postgresql container from {images['postgresql']}: "
            "set TESTCONTAINERS_RYUK_DISABLED=true *Docker said: *"
        ]
    )
    assert before_short_summary(result).count("TESTCONTAINERS_RYUK_DISABLED") == 1
    assert "Traceback" not in out


def test_a_server_that_never_gets_ready_is_one_message_naming_the_image_and_its_key(
    project, pytester, images, monkeypatch
):
    """A PostgreSQL image given for MySQL: the container runs, but never logs what testcontainers waits for.

    testcontainers bounds that wait by TC_MAX_TRIES polls (120 s by default); 3 here.
    """
    monkeypatch.setenv("TC_MAX_TRIES", "3")
    project(ONE)
    wrong = images["postgresql"]
    result = pytester.runpytest_subprocess(
        "--migrations", "--migrations-engines=mysql", f"-o=migrations_mysql_image={wrong}", *QUIET
    )
    result.assert_outcomes(passed=1, failed=1, skipped=5)
    result.stdout.fnmatch_lines(
        [
            f"test_upgrade[[]mysql[]] could not run: the mysql container from Docker image {wrong} did not start or "
            "did not become ready; check that the image is a mysql server image, or set the ini key "
            "migrations_mysql_image to another (a slow server may need a longer wait: TC_MAX_TRIES polls "
            "of TC_POOLING_INTERVAL seconds, 120 of 1 s by default, waited 3 s here). Docker said: TimeoutError: *"
        ]
    )
    body = before_short_summary(result)
    assert body.count("did not become ready") == 1
    # The other items are skipped, pointing at the one that tells why (one cause, one failure).
    assert "Traceback" not in body
    # The fixture checks that the container is gone.
