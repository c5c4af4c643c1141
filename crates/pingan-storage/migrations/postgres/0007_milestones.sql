-- Milestones of a dispatched matter (respond, arrive, first feedback…) as
-- JSON, and when the scheduler must next look at them; separate from
-- next_due, which follows the deadline.
ALTER TABLE matters ADD COLUMN milestones TEXT;
ALTER TABLE matters ADD COLUMN milestone_due BIGINT;
CREATE INDEX matters_milestone_due ON matters(milestone_due) WHERE milestone_due IS NOT NULL;
