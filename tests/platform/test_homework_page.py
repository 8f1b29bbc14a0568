"""The student's homework page and the starter notebook: for the course's members only."""
import json

import pytest

from basin.toolkit.wheel import current_version

# Pages and the schema: the same on SQLite and PostgreSQL; not re-run there.
pytestmark = pytest.mark.django_db


def test_members_see_the_page_with_their_quota_and_history(client, homework, people, scored):
    mine = scored(people["student"], 0.8125, private=0.4375)
    client.force_login(people["student"])
    page = client.get("/homeworks/hw1/")
    assert page.status_code == 200
    html = page.content.decode()
    start = json.loads(html.split('<script id="homework-page" type="application/json">')[1].split("</script>")[0])
    assert start["quota"]["daily_left"] == 3 - 1 and [s["id"] for s in start["submissions"]] == [mine.pk]
    assert "0.4375" not in html  # the private score is not on the page before the reveal
    assert start["submissions"][0]["private_score"] is None


def test_the_page_lists_each_public_file_with_its_sha256_and_never_a_hidden_one(client, homework, people):
    client.force_login(people["student"])
    html = client.get("/homeworks/hw1/").content.decode()
    files = homework.dataset.manifest["files"]
    public = [name for name in files if name.split("/")[0] in ("train", "val")]
    assert public and all(files[name] in html for name in public)
    hidden = [name for name in files if name.split("/")[0] in ("test", "shift")]
    assert all(name not in html and files[name] not in html for name in hidden)


@pytest.mark.parametrize("persona, status", [("outsider", 404), ("other_ta", 404), ("ta", 200)])
def test_outsiders_get_a_404_and_the_course_tas_the_page(client, homework, people, persona, status):
    client.force_login(people[persona])
    assert client.get("/homeworks/hw1/").status_code == status
    assert client.get("/homeworks/hw1/starter.ipynb").status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client, homework):
    response = client.get("/homeworks/hw1/")
    assert response.status_code == 302 and "next=/homeworks/hw1/" in response["Location"]


def test_the_starter_notebook_comes_with_this_site_and_homework_filled_in(client, homework, people):
    client.force_login(people["student"])
    response = client.get("/homeworks/hw1/starter.ipynb")
    assert response["Content-Disposition"] == 'attachment; filename="hw1-starter.ipynb"'
    notebook = json.loads(response.content)
    text = json.dumps(notebook)
    setup = "".join(notebook["cells"][1]["source"])
    assert 'BASIN_URL = "http://testserver"' in setup and 'HOMEWORK = "hw1"' in setup and "YOUR-BASIN" not in text
    # installs this server's own toolkit build, pinned, from its index
    assert ('%pip install -q --disable-pip-version-check --extra-index-url http://testserver/simple/ --trusted-host '
            f'testserver "basin-toolkit[check]=={current_version()}" matplotlib') in setup
    assert notebook["nbformat"] == 4


def test_the_get_started_box_names_the_pinned_install_line_and_the_notebook(client, homework, people):
    client.force_login(people["student"])
    html = client.get("/homeworks/hw1/").content.decode()
    box = html.split('<section id="get-started"')[1].split("</section>")[0]
    assert ('pip install --extra-index-url http://testserver/simple/ --trusted-host testserver '
            f'&quot;basin-toolkit[check]=={current_version()}&quot;') in box  # plain http, not this machine
    assert "/homeworks/hw1/starter.ipynb" in box and "File → Upload notebook" in box and "Run all" in box
    assert "basin bundle model.py weights.safetensors -o model.zip\nbasin check model.zip" in box
    assert "basin_cli.bundle" not in box


def test_a_notebook_basin_cannot_pin_is_not_handed_out(client, homework, people, settings, tmp_path):
    """A course's own notebook without the placeholders would install an unpinned toolkit, which
    any public index could answer: it is refused, and the log says why."""
    stored = json.loads(settings.BASIN_STARTER_NOTEBOOK.read_text())
    for cell in stored["cells"]:
        cell["source"] = "".join(cell["source"]).replace("==FILLED-IN-BY-YOUR-BASIN", "")
    custom = tmp_path / "custom.ipynb"
    custom.write_text(json.dumps(stored))
    settings.BASIN_STARTER_NOTEBOOK = custom
    client.force_login(people["student"])
    assert client.get("/homeworks/hw1/starter.ipynb").status_code == 404
