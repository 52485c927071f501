//! The benchmark suite of issue 5: every operation of upgrade-pilot against the
//! bare PostgreSQL (or shell) operation it wraps, on a synthetic Odoo-shaped
//! database, in the same run, alternating tool / bare, medians and ratios.
//! Machines here are noisy: read the ratios, not the seconds.
//!
//!   cargo run --release --example bench                      # 1 GB, 10 000 files, 3 rounds
//!   cargo run --release --example bench -- --size-mb 5000    # 5 GB
//!   cargo run --release --example bench -- --only clone,snapshot --rounds 5
//!
//! The server runs like a production one (fsync on); a `sync` runs before
//! every timed operation so neither side pays for the other's writeback.

mod anchor;
#[path = "../common/mod.rs"]
mod common;
mod compare;
mod copy;
mod ops;
mod production;
mod shape;
mod window;

use std::path::PathBuf;

use clap::Parser;
use common::{MAJOR, durable_cluster, median};
use upgrade_pilot::config::Config;
use upgrade_pilot::engine::Engine;
use upgrade_pilot::pg::cluster::Cluster;
use upgrade_pilot::pg::conn::ConnInfo;

pub const SECTIONS: &[&str] = &[
    "test",
    "clone",
    "snapshot",
    "filestore",
    "backup",
    "production",
    "plan",
    "frame",
    "compare",
    "window",
    "anchors",
];

#[derive(Parser)]
#[command(about = "upgrade-pilot against the bare PostgreSQL operations")]
struct Args {
    /// Size of the synthetic Odoo database (MB); 5000 for the 5 GB run.
    #[arg(long, default_value_t = 1000)]
    size_mb: u64,
    /// Files in its filestore.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// A/B rounds per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Sections to run, comma-separated (default: all): test, clone,
    /// snapshot, filestore, backup, production, plan, frame, compare,
    /// window, anchors.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// How long the window section's plan sleeps (its known cost).
    #[arg(long, default_value_t = 30)]
    plan_seconds: u64,
    /// Print the tool's step times for each test copy.
    #[arg(long)]
    steps: bool,
    /// Build the database, print how to reach it, and wait for Enter before
    /// the sections run (to look into a result by hand).
    #[arg(long)]
    hold: bool,
}

/// What the issue asks a measurement to meet.
#[derive(Clone, Copy)]
pub enum Goal {
    /// tool / bare at most this.
    Ratio(f64),
    /// the tool's time under this many seconds.
    Under(f64),
    None,
}

pub struct Row {
    pub what: String,
    pub tool: f64,
    pub bare: f64,
    pub bare_what: String,
    pub goal: Goal,
}

impl Row {
    fn verdict(&self) -> &'static str {
        match self.goal {
            Goal::Ratio(r) if self.tool / self.bare <= r => "met",
            Goal::Under(s) if self.tool < s => "met",
            Goal::None => "",
            _ => "MISSED",
        }
    }
    fn goal_text(&self) -> String {
        match self.goal {
            Goal::Ratio(r) => format!("≤ {r}"),
            Goal::Under(s) => format!("< {s} s"),
            Goal::None => String::new(),
        }
    }
}

pub struct Ctx {
    pub rt: tokio::runtime::Runtime,
    pub cluster: Cluster,
    pub conn: ConnInfo,
    pub work: tempfile::TempDir,
    /// The synthetic Odoo database.
    pub src: String,
    /// Odoo's data_dir, holding `filestore/<src>`.
    pub data_dir: PathBuf,
    pub files: usize,
    pub rounds: usize,
    pub steps: bool,
    pub rows: Vec<Row>,
}

impl Ctx {
    /// An engine over the benchmark server, its state in the work dir.
    pub fn engine(&self, with_filestore: bool) -> Engine {
        Engine {
            conn: self.conn.clone(),
            config: Config::default(),
            state_dir: self.work.path().join("state"),
            data_dir: with_filestore.then(|| self.data_dir.clone()),
        }
    }

    /// Runs `tool` and `bare` `rounds` times, alternating which goes first,
    /// records and prints the medians.
    pub fn ab(
        &mut self,
        what: &str,
        bare_what: &str,
        goal: Goal,
        tool: impl FnMut(&Ctx, usize) -> f64,
        bare: impl FnMut(&Ctx, usize) -> f64,
    ) -> (f64, f64) {
        self.ab_rounds(self.rounds, what, bare_what, goal, tool, bare)
    }

    /// `ab` with three times the rounds: for operations of a few seconds,
    /// whose ratios this disk's noise moves most.
    pub fn ab_cheap(
        &mut self,
        what: &str,
        bare_what: &str,
        goal: Goal,
        tool: impl FnMut(&Ctx, usize) -> f64,
        bare: impl FnMut(&Ctx, usize) -> f64,
    ) -> (f64, f64) {
        self.ab_rounds(self.rounds * 3, what, bare_what, goal, tool, bare)
    }

    fn ab_rounds(
        &mut self,
        rounds: usize,
        what: &str,
        bare_what: &str,
        goal: Goal,
        mut tool: impl FnMut(&Ctx, usize) -> f64,
        mut bare: impl FnMut(&Ctx, usize) -> f64,
    ) -> (f64, f64) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            if i % 2 == 0 {
                a.push(tool(self, i));
                b.push(bare(self, i));
            } else {
                b.push(bare(self, i));
                a.push(tool(self, i));
            }
        }
        let row = Row {
            what: what.into(),
            tool: median(a.clone()),
            bare: median(b.clone()),
            bare_what: bare_what.into(),
            goal,
        };
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{what}: {:.3} s vs {bare_what} {:.3} s, ratio {:.2} {} {}   (tool {}; bare {}; ratio of the fastest runs {:.2})",
            row.tool,
            row.bare,
            row.tool / row.bare,
            row.goal_text(),
            row.verdict(),
            fmt(&a),
            fmt(&b),
            min(&a) / min(&b)
        );
        let out = (row.tool, row.bare);
        self.rows.push(row);
        out
    }

    pub fn drop_db(&self, name: &str) {
        common::psql(
            &self.conn,
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{name}\""),
        );
    }
}

fn main() -> color_eyre::Result<()> {
    let args = Args::parse();
    for s in &args.only {
        if !SECTIONS.contains(&s.as_str()) {
            color_eyre::eyre::bail!("unknown section {s:?}: use {}", SECTIONS.join(", "));
        }
    }
    let want = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let rt = tokio::runtime::Runtime::new()?;
    let cluster = durable_cluster()?;
    let conn = cluster.conn_info();
    let work = tempfile::tempdir()?;
    let data_dir = work.path().join("odoo");
    let src = "odoo_src".to_string();
    let t0 = std::time::Instant::now();
    let shape = shape::build(&conn, &src, args.size_mb, &rt);
    let fs_bytes = shape::filestore(&conn, &src, &data_dir, args.files)?;
    println!(
        "source: synthetic Odoo 16.0 database, {} MB ({} sale orders and what hangs off them), filestore {} files / {} MB; built in {:.0} s",
        shape.bytes / 1024 / 1024,
        shape.orders,
        args.files,
        fs_bytes / 1024 / 1024,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "PostgreSQL {MAJOR}, fsync on, {} cores; {} rounds, alternating A/B, medians",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.rounds
    );
    if args.hold {
        let env: Vec<String> = conn
            .child_env()
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        println!(
            "the server: {} psql -d {src}   (Enter to go on)",
            env.join(" ")
        );
        std::io::stdin().read_line(&mut String::new())?;
    }
    let mut ctx = Ctx {
        rt,
        cluster,
        conn,
        work,
        src,
        data_dir,
        files: args.files,
        rounds: args.rounds,
        steps: args.steps,
        rows: Vec::new(),
    };
    if want("test") {
        copy::test_copy(&mut ctx)?;
    }
    if want("clone") {
        copy::clone_vs_raw(&mut ctx)?;
    }
    if want("snapshot") {
        copy::snapshot(&mut ctx)?;
    }
    if want("filestore") {
        ops::filestore(&mut ctx)?;
    }
    if want("backup") {
        ops::backup(&mut ctx)?;
    }
    if want("production") {
        production::production(&mut ctx)?;
    }
    if want("plan") {
        ops::plan(&mut ctx)?;
    }
    if want("frame") {
        ops::frame(&mut ctx)?;
    }
    if want("compare") {
        compare::compare(&mut ctx)?;
    }
    if want("window") {
        window::window(&mut ctx, args.plan_seconds)?;
    }
    if want("anchors") {
        anchor::anchors(&mut ctx, args.size_mb)?;
    }

    println!("\n| measurement | tool | bare | ratio | goal | |\n|---|---|---|---|---|---|");
    let cell = |s: &str| s.replace('|', "\\|");
    for r in &ctx.rows {
        println!(
            "| {} | {:.3} s | {:.3} s ({}) | {:.2} | {} | {} |",
            cell(&r.what),
            r.tool,
            r.bare,
            cell(&r.bare_what),
            r.tool / r.bare,
            r.goal_text(),
            r.verdict()
        );
    }
    Ok(())
}
