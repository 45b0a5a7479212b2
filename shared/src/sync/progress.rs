/// Progress of a sync, for a terminal progress bar (seatctl) or nothing (the Lambda).
pub trait Progress: Send + Sync {
    /// A task started.
    fn task(&self, _label: &str) {}
    /// Running totals within the current task.
    fn advanced(&self, _seats_seen: u64, _events_read: u64) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}
