"""The resources service's unit of work: sheets, experiences, trainings, search, outbox
and inbox in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.resources.adapters.report_facts import SqlReportFacts
from services.resources.adapters.repository import SqlExperienceRepository, SqlSheetRepository
from services.resources.adapters.search import SqlSearchIndex
from services.resources.adapters.surveys import SqlSurveyRepository
from services.resources.adapters.trainings import SqlTrainingRepository
from shared.db.unit_of_work import SqlUnitOfWork


class ResourcesUnitOfWork(SqlUnitOfWork):
    sheets: SqlSheetRepository
    experiences: SqlExperienceRepository
    trainings: SqlTrainingRepository
    search_index: SqlSearchIndex
    report_facts: SqlReportFacts
    surveys: SqlSurveyRepository

    def _open_repositories(self, session: AsyncSession) -> None:
        self.sheets = SqlSheetRepository(session)
        self.experiences = SqlExperienceRepository(session)
        self.trainings = SqlTrainingRepository(session)
        self.search_index = SqlSearchIndex(session)
        self.report_facts = SqlReportFacts(session)
        self.surveys = SqlSurveyRepository(session)
