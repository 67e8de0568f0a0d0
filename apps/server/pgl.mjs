import { PGlite } from "@electric-sql/pglite";

let t = performance.now();
const a = await PGlite.create();
await a.exec("create table t (id int)");
console.log("create", Math.round(performance.now() - t));
t = performance.now();
const dump = await a.dumpDataDir("none");
console.log("dump", Math.round(performance.now() - t), dump.size);
t = performance.now();
const b = await PGlite.create({ loadDataDir: dump });
await b.query("select * from t");
console.log("load", Math.round(performance.now() - t));
