import { Router } from "express";

/** The static web pages; filled in by the web package. */
export function webRoutes(): Router {
  return Router();
}
