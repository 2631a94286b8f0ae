"""A per-revision data test on the Flask app: `migrator` runs env.py inside the app context."""


def test_new_user_fields_keep_existing_users(migrator):
    migrator.upgrade("2cca9e97e273")
    migrator.insert("user", [{"id": 1, "username": "susan", "email": "susan@example.com"}])
    migrator.upgrade("45654719056e")
    assert migrator.rows("user") == [
        {
            "id": 1,
            "username": "susan",
            "email": "susan@example.com",
            "password_hash": None,
            "about_me": None,
            "last_seen": None,
        }
    ]
    assert migrator.current() == ("45654719056e",)
