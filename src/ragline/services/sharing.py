"""Shared collections: who may read a collection besides its owner, in one place.

A collection shared with a user, or with a group the user belongs to, is addressed by that user
as `OWNER/NAME` (the owner's user name, then the collection's). Every read path that takes a
collection name resolves it through `readable_collection` (search, threads bound to it and the
runs that retrieve from it, document lists and files), and checks the share again on each
request, so a revoked share stops the next search or run. Writes of documents (upload, delete,
sync) resolve names through `writable_collection` and `writable_document`: the owner and editors
may, a reader gets 403, anyone else 404. Managing shares stays the owner's (`share`, `unshare`,
`list_shares` see only the caller's own collections). A scoped API key's collections
(services/key_scopes.py) limit every one of these: others are not found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.tables import (
    Collection,
    CollectionShare,
    Document,
    Group,
    GroupMember,
    User,
)
from ragline.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from ragline.services import audit, key_scopes
from ragline.services import collections as coll

ROLES = ("reader", "editor")


def _grantee_filter(user_id: str) -> Any:
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    return or_(CollectionShare.user_id == user_id, CollectionShare.group_id.in_(groups))


async def _shared(session: AsyncSession, user_id: str, name: str
                  ) -> tuple[Collection, bool] | None:
    """`OWNER/NAME` shared with the user or one of their groups, and whether as an editor."""
    owner_name, sep, collection_name = name.partition("/")
    if not sep or not owner_name or not collection_name:
        return None
    rows = (await session.execute(
        select(Collection, CollectionShare.role)
        .join(User, User.id == Collection.owner_id)
        .join(CollectionShare, CollectionShare.collection_id == Collection.id)
        .where(User.name == owner_name, Collection.name == collection_name,
               Collection.owner_id != user_id, _grantee_filter(user_id))
    )).all()
    if not rows:
        return None
    return rows[0][0], any(role == "editor" for _, role in rows)


async def shared_collection(session: AsyncSession, user_id: str, name: str) -> Collection | None:
    """`OWNER/NAME` when that collection is shared with the user or one of their groups."""
    found = await _shared(session, user_id, name)
    return None if found is None else found[0]


async def readable_collection(session: AsyncSession, user_id: str, name: str
                              ) -> Collection | None:
    """The caller's own collection of that name, else one shared with them."""
    if not key_scopes.allows(name):
        return None
    own = await coll.find_collection(session, user_id, name)
    return own if own is not None else await shared_collection(session, user_id, name)


def _not_found(name: str) -> NotFound:
    return NotFound(f"collection {name!r} not found", code="collection_not_found")


async def owned_collection(session: AsyncSession, owner_id: str, name: str) -> Collection:
    """The caller's own collection, to manage (shares, deletion); 404 outside a key's scope."""
    if not key_scopes.allows(name):
        raise _not_found(name)
    return await coll.require_collection(session, owner_id, name)


async def require_readable(session: AsyncSession, user_id: str, name: str) -> Collection:
    """`readable_collection`, with `default` created on first use; else 404."""
    if name == coll.DEFAULT_COLLECTION and key_scopes.allows(name):
        return await coll.get_or_create_collection(session, user_id, name)
    found = await readable_collection(session, user_id, name)
    if found is None:
        raise _not_found(name)
    return found


async def writable_collection(session: AsyncSession, user_id: str, name: str, *,
                              create: bool = False) -> Collection:
    """The caller's own collection (`create`: made if missing; `default` always is), or
    `OWNER/NAME` shared with them as an editor. A reader of it gets 403, anyone else 404."""
    if not key_scopes.allows(name):
        raise _not_found(name)
    if "/" not in name:
        if create:
            return await coll.get_or_create_collection(session, user_id, name)
        return await coll.require_collection(session, user_id, name)
    found = await _shared(session, user_id, name)
    if found is None:
        raise _not_found(name)
    collection, editor = found
    if not editor:
        raise Forbidden(f"collection {name!r} is shared with you read-only",
                        code="collection_read_only")
    return collection


async def role(session: AsyncSession, user_id: str, *, owner_id: str, collection_id: str
               ) -> str | None:
    """"owner", "editor", "reader" or None: what the user is to a collection."""
    if owner_id == user_id:
        return "owner"
    roles = set(await session.scalars(
        select(CollectionShare.role).where(CollectionShare.collection_id == collection_id,
                                           _grantee_filter(user_id))
    ))
    return "editor" if "editor" in roles else "reader" if roles else None


async def _document_role(session: AsyncSession, user_id: str, document: Document) -> str | None:
    return await role(session, user_id, owner_id=document.owner_id,
                      collection_id=document.collection_id)


async def _in_scope(session: AsyncSession, user_id: str, document: Document) -> bool:
    """Whether a collection-scoped key of the user may see the document's collection."""
    if not key_scopes.scoped():
        return True
    row = (await session.execute(
        select(Collection.name, User.name).join(User, User.id == Collection.owner_id)
        .where(Collection.id == document.collection_id)
    )).first()
    if row is None:
        return False
    name, owner = row
    return key_scopes.allows(name if document.owner_id == user_id else f"{owner}/{name}")


async def can_read_document(session: AsyncSession, user_id: str, document: Document) -> bool:
    return (await _document_role(session, user_id, document) is not None
            and await _in_scope(session, user_id, document))


async def writable_document(session: AsyncSession, user_id: str, document_id: str) -> Document:
    """The document, for its collection's owner or an editor; a reader gets 403, else 404."""
    document = await session.get(Document, document_id)
    found = None if document is None else await _document_role(session, user_id, document)
    if document is None or found is None or not await _in_scope(session, user_id, document):
        raise NotFound(f"document {document_id} not found", code="document_not_found")
    if found == "reader":
        raise Forbidden(f"document {document_id} is in a collection shared with you read-only",
                        code="collection_read_only")
    return document


async def shared_with(session: AsyncSession, user_id: str) -> list[tuple[Collection, str]]:
    """The collections shared with the user, each with the name they address it by."""
    rows = (await session.execute(
        select(Collection, User.name)
        .join(User, User.id == Collection.owner_id)
        .join(CollectionShare, CollectionShare.collection_id == Collection.id)
        .where(Collection.owner_id != user_id, _grantee_filter(user_id))
        .order_by(Collection.created_at, Collection.id)
    )).all()
    seen: dict[str, tuple[Collection, str]] = {}
    for collection, owner in rows:
        seen.setdefault(collection.id, (collection, f"{owner}/{collection.name}"))
    return [(c, name) for c, name in seen.values() if key_scopes.allows(name)]


async def _grantee(session: AsyncSession, user: str | None, group: str | None
                   ) -> tuple[str | None, str | None]:
    if (user is None) == (group is None):
        raise InvalidInput("name exactly one of `user` and `group`", code="invalid_share")
    if user is not None:
        user_id = await session.scalar(select(User.id).where(User.name == user).limit(1))
        if user_id is None:
            raise NotFound(f"user {user!r} not found", code="user_not_found")
        return user_id, None
    group_id = await session.scalar(select(Group.id).where(Group.name == group))
    if group_id is None:
        raise NotFound(f"group {group!r} not found", code="group_not_found")
    return None, group_id


def _same(user_id: str | None, group_id: str | None) -> Any:
    return (CollectionShare.user_id.is_(None) if user_id is None
            else CollectionShare.user_id == user_id,
            CollectionShare.group_id.is_(None) if group_id is None
            else CollectionShare.group_id == group_id)


async def share(session: AsyncSession, owner_id: str, name: str, *, user: str | None,
                group: str | None, role: str) -> None:
    """Share the owner's collection (sharing again changes the role)."""
    if role not in ROLES:
        raise InvalidInput("role must be 'reader' or 'editor'", code="invalid_role")
    collection = await owned_collection(session, owner_id, name)
    user_id, group_id = await _grantee(session, user, group)
    if user_id == owner_id:
        raise Conflict("the owner already has the collection", code="share_with_owner")
    found = await session.scalar(
        select(CollectionShare).where(CollectionShare.collection_id == collection.id,
                                      *_same(user_id, group_id))
    )
    if found is None:
        session.add(CollectionShare(collection_id=collection.id, user_id=user_id,
                                    group_id=group_id, role=role))
    else:
        found.role = role
    await audit.record(session, owner_id, "collection.share", target_id=collection.id,
                       target=await audit.collection_label(session, owner_id, name),
                       user=user, group=group, role=role)
    await session.flush()


async def unshare(session: AsyncSession, owner_id: str, name: str, *, user: str | None,
                  group: str | None) -> None:
    collection = await owned_collection(session, owner_id, name)
    user_id, group_id = await _grantee(session, user, group)
    gone = await session.execute(delete(CollectionShare).where(
        CollectionShare.collection_id == collection.id, *_same(user_id, group_id)))
    if getattr(gone, "rowcount", 0):
        await audit.record(session, owner_id, "collection.unshare", target_id=collection.id,
                           target=await audit.collection_label(session, owner_id, name),
                           user=user, group=group)


async def list_shares(session: AsyncSession, owner_id: str, name: str) -> list[dict[str, Any]]:
    collection = await owned_collection(session, owner_id, name)
    rows = (await session.execute(
        select(CollectionShare, User.name, Group.name)
        .outerjoin(User, User.id == CollectionShare.user_id)
        .outerjoin(Group, Group.id == CollectionShare.group_id)
        .where(CollectionShare.collection_id == collection.id)
        .order_by(CollectionShare.created_at, CollectionShare.id)
    )).all()
    return [{"user": user, "group": group, "role": s.role} for s, user, group in rows]


async def create_group(session: AsyncSession, name: str) -> Group:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a group name needs 1 to 200 characters", code="invalid_group_name")
    if await session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise Conflict(f"group {name!r} already exists", code="group_exists")
    group = Group(name=name)
    session.add(group)
    await session.flush()
    await audit.record(session, audit.OPERATOR, "group.create", target_id=group.id, target=name)
    return group


async def add_member(session: AsyncSession, group: str, user: str) -> None:
    group_id = await session.scalar(select(Group.id).where(Group.name == group))
    if group_id is None:
        raise NotFound(f"group {group!r} not found", code="group_not_found")
    user_ids = list(await session.scalars(select(User.id).where(User.name == user)))
    if not user_ids:
        raise NotFound(f"user {user!r} not found", code="user_not_found")
    for user_id in user_ids:
        if await session.get(GroupMember, (group_id, user_id)) is None:
            session.add(GroupMember(group_id=group_id, user_id=user_id))
    await audit.record(session, audit.OPERATOR, "group.add_member", target_id=group_id,
                       target=group, user=user)
    await session.flush()


async def remove_member(session: AsyncSession, group: str, user: str) -> None:
    group_id = await session.scalar(select(Group.id).where(Group.name == group))
    if group_id is None:
        raise NotFound(f"group {group!r} not found", code="group_not_found")
    users = select(User.id).where(User.name == user)
    await session.execute(delete(GroupMember).where(GroupMember.group_id == group_id,
                                                    GroupMember.user_id.in_(users)))
    await audit.record(session, audit.OPERATOR, "group.remove_member", target_id=group_id,
                       target=group, user=user)
