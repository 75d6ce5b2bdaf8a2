"""Every event type of the product, by its ``ce_type``."""

from __future__ import annotations

from shared.contracts.base import EventPayload
from shared.contracts.billing import (
    AdhesionEnded,
    AdhesionRegistered,
    BuyerAccountRegistered,
    CreditNoteIssued,
    InvoiceIssued,
    MembershipOffered,
)
from shared.contracts.conventions import (
    ConventionAmended,
    ConventionExpired,
    ConventionPrepared,
    ConventionRefused,
    ConventionSent,
    ConventionSigned,
)
from shared.contracts.matching import (
    ActorRegistered,
    ActorUpdated,
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.missions import DeliverableAdded, MilestoneDone, MissionReassigned
from shared.contracts.notifications import DeliveryDeadLettered, DeliverySent
from shared.contracts.projects import (
    ProjectDuplicateSuspected,
    ProjectPhaseClosed,
    ProjectPhaseOpened,
)
from shared.contracts.requests import (
    ContactRecorded,
    OpenNextPhaseCommand,
    RequestSubmitted,
    RequestSubmittedV2,
    RequestWithdrawn,
    SubmitRequestCommand,
)
from shared.contracts.resources import (
    ActorAlertRaised,
    AttendanceRecorded,
    ExperienceDrafted,
    ExperiencePublished,
    RegistrationCancelled,
    RegistrationPromoted,
    RegistrationRecorded,
    RegistrationReminderDue,
    SheetPublished,
    SheetRevised,
    SurveyAnswered,
    SurveyDue,
    TrainingOffered,
)

EVENT_MODELS: tuple[type[EventPayload], ...] = (
    RequestSubmitted,
    RequestSubmittedV2,
    ContactRecorded,
    RequestWithdrawn,
    SubmitRequestCommand,
    OpenNextPhaseCommand,
    ProjectPhaseOpened,
    ProjectPhaseClosed,
    ProjectDuplicateSuspected,
    ActorRegistered,
    ActorUpdated,
    AssignmentProposed,
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentCompleted,
    AssignmentCancelled,
    RequestUnmatched,
    MilestoneDone,
    DeliverableAdded,
    MissionReassigned,
    AdhesionRegistered,
    AdhesionEnded,
    MembershipOffered,
    InvoiceIssued,
    CreditNoteIssued,
    ConventionPrepared,
    ConventionSent,
    ConventionSigned,
    ConventionRefused,
    ConventionExpired,
    ConventionAmended,
    BuyerAccountRegistered,
    DeliverySent,
    DeliveryDeadLettered,
    SheetPublished,
    SheetRevised,
    TrainingOffered,
    RegistrationRecorded,
    RegistrationPromoted,
    RegistrationCancelled,
    RegistrationReminderDue,
    AttendanceRecorded,
    ExperienceDrafted,
    ExperiencePublished,
    SurveyDue,
    SurveyAnswered,
    ActorAlertRaised,
)
