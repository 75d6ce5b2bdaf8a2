"""Where the bytes of the deliverables live: a PostgreSQL table (the default) or an
S3-compatible object store, chosen by ``MG_MATCHING_STORAGE`` (``bootstrap``)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.matching.adapters.orm import deliverable_contents


class PostgresContentStore:
    """``bytea`` rows in the service's own database, each written in its own transaction."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        async with self._session_factory() as session, session.begin():
            await session.execute(
                insert(deliverable_contents).values(key=key, content_type=content_type, data=data)
            )

    async def get(self, key: str) -> bytes | None:
        async with self._session_factory() as session:
            found = await session.scalar(
                select(deliverable_contents.c.data).where(deliverable_contents.c.key == key)
            )
        return bytes(found) if found is not None else None


class S3ContentStore:
    """Objects in one bucket of an S3-compatible store (path-style addressing, which
    MinIO, Garage, Ceph and the cloud stores all answer). boto3 blocks: its calls run in
    a worker thread."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
    ) -> None:
        self._bucket = bucket
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes | None:
        def read() -> bytes | None:
            try:
                found = self._client.get_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            body: bytes = found["Body"].read()
            return body

        return await asyncio.to_thread(read)
