"""A per-revision data test: the `migrator` fixture runs it on every engine of the matrix."""


def test_full_name_split(migrator):
    migrator.upgrade("0004")
    migrator.insert("author", [{"id": 1, "name": "Ada Lovelace", "email": "ada@example.org"}])
    migrator.upgrade("0005")
    assert migrator.rows("author") == [
        {"id": 1, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}
    ]
    migrator.downgrade("0004")
    assert migrator.rows("author") == [{"id": 1, "name": "Ada Lovelace", "email": "ada@example.org"}]
